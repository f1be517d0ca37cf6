//! Adding an invariant to a collection that already holds documents: checking them once and
//! computing the aggregates the invariant keeps from then on.

use std::collections::BTreeMap;
use std::ops::Bound;

use cairn_doc::{DocId, FieldPath, Value};
use cairn_engine::{EngineError, Result as EngineResult, Transaction};

use crate::amount::{amount_at, Amount};
use crate::check::{describe, violation, META_TABLE, TOTAL_KEY};
use crate::exact_sum::{ExactSum, SumOverflow};
use crate::group::{group_key, group_value, Aggregate, GROUPS_TABLE};
use crate::spec::{InvariantSpec, Rule};

/// What a scan of the existing documents accumulates.
pub(crate) struct Baseline<'s> {
    collection: &'s str,
    spec: &'s InvariantSpec,
    total: ExactSum,
    groups: BTreeMap<Vec<u8>, Aggregate>,
}

impl<'s> Baseline<'s> {
    /// Checks every document of the collection against a newly attached invariant and stores
    /// its aggregates, inside the attaching transaction (whose scan is conflict-checked, so a
    /// concurrent write makes the whole add retry).
    pub(crate) fn initialize(
        txn: &mut Transaction,
        collection: &'s str,
        spec: &'s InvariantSpec,
    ) -> EngineResult<()> {
        let mut baseline = Baseline {
            collection,
            spec,
            total: ExactSum::zero(),
            groups: BTreeMap::new(),
        };
        txn.scan_documents(
            collection,
            Bound::Unbounded,
            Bound::Unbounded,
            |key, doc| {
                let id = DocId::decode_key(key)?;
                baseline.observe(&id, &doc)?;
                Ok::<_, cairn_engine::EngineError>(true)
            },
        )?;
        baseline.store(txn)
    }

    fn observe(&mut self, id: &DocId, doc: &Value) -> EngineResult<()> {
        match &self.spec.rule {
            Rule::Conserve { field } => {
                if let Some(amount) = self.amount(id, doc, field)? {
                    let term = amount.to_sum().map_err(|e| self.overflow(e))?;
                    self.total.add_sum(&term).map_err(|e| self.overflow(e))?;
                }
            }
            Rule::FieldBound { field, op, bound } => {
                let Some(amount) = self.amount(id, doc, field)? else {
                    return Ok(());
                };
                let order = amount
                    .to_sum()
                    .and_then(|v| v.cmp_exact(&bound.to_sum()?))
                    .map_err(|e| self.overflow(e))?;
                if !op.holds(order) {
                    return Err(self.violation(
                        format!("existing document `{id}` has {field} = {amount}"),
                        vec![
                            ("document", id.to_value()),
                            ("value", amount.to_value()),
                            ("bound", bound.to_value()),
                        ],
                    ));
                }
            }
            Rule::GroupBound { field, group, .. } => {
                let key = group_key(doc, group).map_err(|reason| {
                    self.violation(
                        format!("existing document `{id}`: {reason}"),
                        vec![("document", id.to_value())],
                    )
                })?;
                let amount = self.amount(id, doc, field)?;
                let term = match amount {
                    Some(amount) => Some(amount.to_sum().map_err(|e| self.overflow(e))?),
                    None => None,
                };
                let entry = self.groups.entry(key).or_default();
                entry.documents += 1;
                if let Some(term) = term {
                    entry.sum.add_sum(&term).map_err(|_| {
                        violation(
                            self.collection,
                            self.spec,
                            "the exact sum is out of range".into(),
                            vec![],
                        )
                    })?;
                }
            }
        }
        Ok(())
    }

    /// Checks group bounds and writes what the invariant keeps.
    fn store(self, txn: &mut Transaction) -> EngineResult<()> {
        let (collection, name) = (self.collection, self.spec.name.as_str());
        match &self.spec.rule {
            Rule::Conserve { .. } => {
                let mut bytes = Vec::new();
                self.total.encode(&mut bytes);
                txn.extension_put(collection, name, META_TABLE, TOTAL_KEY, &bytes)
            }
            Rule::FieldBound { .. } => Ok(()),
            Rule::GroupBound { op, bound, .. } => {
                let bound_sum = bound.to_sum().map_err(|e| self.overflow(e))?;
                for (key, aggregate) in &self.groups {
                    let order = aggregate
                        .sum
                        .cmp_exact(&bound_sum)
                        .map_err(|e| self.overflow(e))?;
                    if !op.holds(order) {
                        let group = group_value(key).unwrap_or(Value::Null);
                        return Err(self.violation(
                            format!(
                                "existing group {} sums to {}",
                                group.to_json_string(),
                                describe(&aggregate.sum)
                            ),
                            vec![
                                ("group", group),
                                ("after", aggregate.sum.to_value()),
                                ("bound", bound.to_value()),
                            ],
                        ));
                    }
                    txn.extension_put(collection, name, GROUPS_TABLE, key, &aggregate.encode())?;
                }
                Ok(())
            }
        }
    }

    /// The amount of an existing document, refusing a non-number (the invariant could never
    /// hold for it).
    fn amount(&self, id: &DocId, doc: &Value, field: &FieldPath) -> EngineResult<Option<Amount>> {
        amount_at(doc, field).map_err(|found| {
            self.violation(
                format!(
                    "existing document `{id}` holds a {} in `{field}`; the invariant needs a number",
                    found.type_name()
                ),
                vec![("document", id.to_value()), ("value", found.clone())],
            )
        })
    }

    fn violation(&self, detail: String, amounts: Vec<(&str, Value)>) -> EngineError {
        violation(self.collection, self.spec, detail, amounts)
    }

    fn overflow(&self, _: SumOverflow) -> EngineError {
        self.violation("the exact sum is out of range".to_string(), Vec::new())
    }
}
