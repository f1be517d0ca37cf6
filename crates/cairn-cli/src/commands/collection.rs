//! `cairn collection ...`

use cairn::graph::{self, EdgeOptions, OnVertexDelete};
use cairn::{CollectionOptions, Database};

use crate::cli::{CollectionAction, OnDelete};

pub fn run(db: &Database, action: &CollectionAction) -> anyhow::Result<()> {
    match action {
        CollectionAction::Create {
            name,
            timeseries: true,
            time_field,
            meta_field,
            chunk_span,
            expire_after,
            ..
        } => super::series::create(
            db,
            name,
            time_field.as_deref().unwrap_or_default(),
            meta_field.as_deref().unwrap_or_default(),
            *chunk_span,
            *expire_after,
        )?,
        CollectionAction::Create {
            name,
            edges: false,
            routing,
            no_routing,
            ..
        } => {
            let routing = match (*routing, *no_routing) {
                (_, true) => Some(false),
                (true, _) => Some(true),
                _ => None,
            };
            let meta = db.create_collection_with(name, &CollectionOptions { routing })?;
            let note = if meta.routing {
                ""
            } else {
                " (no routing index)"
            };
            println!("created collection `{name}`{note}");
        }
        CollectionAction::Create {
            name,
            edges: true,
            on_delete,
            vertices,
            store_properties,
            ..
        } => {
            let on_vertex_delete = match on_delete {
                OnDelete::Restrict => OnVertexDelete::Restrict,
                OnDelete::Cascade => OnVertexDelete::Cascade,
                OnDelete::None => OnVertexDelete::None,
            };
            let options = EdgeOptions {
                on_vertex_delete,
                vertex_collections: vertices.clone(),
                properties: store_properties.clone(),
            };
            graph::create_edge_collection(db, name, &options)?;
            println!(
                "created edge collection `{name}` (on vertex delete: {})",
                on_vertex_delete.name()
            );
        }
        CollectionAction::RegisterVertices { edges, vertices } => {
            graph::register_vertex_collection(db, edges, vertices)?;
            println!("edges of `{edges}` may name documents of `{vertices}`");
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
        CollectionAction::Retention {
            name,
            changes,
            default,
        } => {
            if *default {
                db.set_collection_retention(name, None)?;
            } else if let Some(n) = changes {
                db.set_collection_retention(name, Some(*n))?;
            }
            match db.collection_retention(name)? {
                Some(n) => println!("`{name}` keeps its last {n} changes"),
                None => println!("`{name}` follows the database-wide change-log retention"),
            }
        }
    }
    Ok(())
}
