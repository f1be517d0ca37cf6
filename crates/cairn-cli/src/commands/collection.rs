//! `cairn collection ...`

use cairn::Database;

use crate::cli::CollectionAction;

pub fn run(db: &Database, action: &CollectionAction) -> anyhow::Result<()> {
    match action {
        CollectionAction::Create { name } => {
            db.create_collection(name)?;
            println!("created collection `{name}`");
        }
        CollectionAction::Drop { name } => {
            db.drop_collection(name)?;
            println!("dropped collection `{name}`");
        }
        CollectionAction::List => {
            for meta in db.list_collections()? {
                println!("{}", meta.name);
            }
        }
        CollectionAction::Rename { from, to } => {
            db.rename_collection(from, to)?;
            println!("renamed collection `{from}` to `{to}`");
        }
    }
    Ok(())
}
