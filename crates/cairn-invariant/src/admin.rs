//! Adding, dropping and listing invariants, and reading group aggregates.

use std::ops::Bound;

use cairn_doc::Value;
use cairn_engine::{Database, Transaction};

use crate::baseline::Baseline;
use crate::check::{INVARIANT_KIND, META_TABLE, TOTAL_KEY};
use crate::error::{InvariantError, Result};
use crate::exact_sum::ExactSum;
use crate::group::{group_value, Aggregate, GROUPS_TABLE};
use crate::limits::MAX_INVARIANTS_PER_COLLECTION;
use crate::spec::{InvariantSpec, Rule};

/// An invariant as listed.
#[derive(Debug, Clone, PartialEq)]
pub struct InvariantInfo {
    /// The definition.
    pub spec: InvariantSpec,
    /// What it keeps.
    pub state: InvariantState,
}

/// The figures an invariant keeps, read without scanning documents.
#[derive(Debug, Clone, PartialEq)]
pub enum InvariantState {
    /// The conserved total (fixed since the invariant was added).
    Conserved {
        /// The total.
        total: ExactSum,
    },
    /// A per-document bound keeps no figures.
    FieldBound,
    /// Group aggregates.
    Groups {
        /// Number of groups (distinct values of the group field).
        groups: u64,
        /// The group with the lowest sum, and the sum.
        lowest: Option<(Value, ExactSum)>,
        /// The group with the highest sum, and the sum.
        highest: Option<(Value, ExactSum)>,
    },
}

/// One group's running aggregate.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupAggregate {
    /// The group value.
    pub group: Value,
    /// Documents in the group.
    pub documents: u64,
    /// The exact sum of the field over them.
    pub sum: ExactSum,
}

/// Adds an invariant to a collection: parses `rule`, checks the documents already there and
/// computes its aggregates once, in one transaction with the catalog change (a concurrent
/// write makes it retry, so the aggregates match the data exactly). Fails with
/// [`EngineError::InvariantViolation`] when existing data already breaks the rule; nothing is
/// added then. `name` defaults to one derived from the rule.
pub fn add_invariant(
    db: &Database,
    collection: &str,
    name: Option<&str>,
    rule: &str,
) -> Result<InvariantSpec> {
    let rule = Rule::parse(rule)?;
    let spec = InvariantSpec {
        name: name.map_or_else(|| rule.default_name(), str::to_string),
        rule,
    };
    let count = invariant_specs(&mut db.read()?, collection)?.len();
    if count >= MAX_INVARIANTS_PER_COLLECTION {
        return Err(InvariantError::TooManyInvariants {
            collection: collection.to_string(),
            count,
            limit: MAX_INVARIANTS_PER_COLLECTION,
        });
    }
    db.transaction(|txn| {
        txn.attach_extension(collection, INVARIANT_KIND, &spec.name, spec.to_config())?;
        Baseline::initialize(txn, collection, &spec)
    })?;
    Ok(spec)
}

/// Drops an invariant and its aggregates.
pub fn drop_invariant(db: &Database, collection: &str, name: &str) -> Result<()> {
    let specs = invariant_specs(&mut db.read()?, collection)?;
    if !specs.iter().any(|spec| spec.name == name) {
        return Err(InvariantError::UnknownInvariant {
            collection: collection.to_string(),
            name: name.to_string(),
        });
    }
    db.detach_extension(collection, name)?;
    Ok(())
}

/// Lists a collection's invariants with what each keeps (cost: one read per conserved sum,
/// one pass over the group table per group bound; never a document scan).
pub fn list_invariants(db: &Database, collection: &str) -> Result<Vec<InvariantInfo>> {
    let mut txn = db.read()?;
    let mut out = Vec::new();
    for spec in invariant_specs(&mut txn, collection)? {
        let state = match &spec.rule {
            Rule::Conserve { .. } => {
                let bytes = txn.extension_get(collection, &spec.name, META_TABLE, TOTAL_KEY)?;
                let total = match bytes {
                    Some(bytes) => ExactSum::decode(&bytes)
                        .map(|(sum, _)| sum)
                        .ok_or_else(|| corrupt(&spec, "conserved total"))?,
                    None => ExactSum::zero(),
                };
                InvariantState::Conserved { total }
            }
            Rule::FieldBound { .. } => InvariantState::FieldBound,
            Rule::GroupBound { .. } => {
                let groups = read_groups(&mut txn, collection, &spec)?;
                let lowest = lowest_by(&groups, std::cmp::Ordering::Less);
                let highest = lowest_by(&groups, std::cmp::Ordering::Greater);
                InvariantState::Groups {
                    groups: groups.len() as u64,
                    lowest,
                    highest,
                }
            }
        };
        out.push(InvariantInfo { spec, state });
    }
    Ok(out)
}

/// The running aggregates of a group-bound invariant, in group-key order.
pub fn group_aggregates(
    db: &Database,
    collection: &str,
    name: &str,
) -> Result<Vec<GroupAggregate>> {
    let mut txn = db.read()?;
    let spec = invariant_specs(&mut txn, collection)?
        .into_iter()
        .find(|spec| spec.name == name)
        .ok_or_else(|| InvariantError::UnknownInvariant {
            collection: collection.to_string(),
            name: name.to_string(),
        })?;
    read_groups(&mut txn, collection, &spec)
}

/// The invariants recorded in a collection's catalog entry.
fn invariant_specs(txn: &mut Transaction, collection: &str) -> Result<Vec<InvariantSpec>> {
    let meta = txn.collection_meta(collection)?;
    meta.extensions
        .iter()
        .filter(|ext| ext.kind == INVARIANT_KIND)
        .map(|ext| InvariantSpec::from_config(&ext.name, &ext.config))
        .collect()
}

fn read_groups(
    txn: &mut Transaction,
    collection: &str,
    spec: &InvariantSpec,
) -> Result<Vec<GroupAggregate>> {
    let mut groups = Vec::new();
    let mut bad = false;
    txn.extension_range(
        collection,
        &spec.name,
        GROUPS_TABLE,
        Bound::Unbounded,
        Bound::Unbounded,
        |key, value| {
            match (group_value(key), Aggregate::decode(value)) {
                (Some(group), Some(agg)) => groups.push(GroupAggregate {
                    group,
                    documents: agg.documents,
                    sum: agg.sum,
                }),
                _ => bad = true,
            }
            Ok::<_, cairn_engine::EngineError>(!bad)
        },
    )?;
    if bad {
        return Err(corrupt(spec, "group aggregate"));
    }
    Ok(groups)
}

/// The group whose sum is furthest in direction `want` (Less: lowest).
fn lowest_by(groups: &[GroupAggregate], want: std::cmp::Ordering) -> Option<(Value, ExactSum)> {
    let mut best: Option<&GroupAggregate> = None;
    for group in groups {
        let better = match best {
            None => true,
            Some(current) => group.sum.cmp_exact(&current.sum).ok() == Some(want),
        };
        if better {
            best = Some(group);
        }
    }
    best.map(|g| (g.group.clone(), g.sum.clone()))
}

fn corrupt(spec: &InvariantSpec, what: &str) -> InvariantError {
    InvariantError::Corrupt {
        invariant: spec.name.clone(),
        detail: format!("undecodable {what}"),
    }
}
