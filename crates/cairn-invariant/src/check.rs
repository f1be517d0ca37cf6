//! The invariant extension: what runs when a transaction commits.
//!
//! Nothing happens per operation (`on_write` is empty): every check runs once, in
//! [`Extension::before_commit`], over the transaction's net document changes, so a
//! transaction may pass through states that break an invariant as long as its final state
//! does not, and the work is proportional to the documents it changed.
//!
//! * Conserved sum: the exact delta `Σ new − Σ old` over the changed documents must be zero.
//!   No stored state is read or written, so conserving transactions never conflict with each
//!   other on account of the invariant.
//! * Field bound: each changed document's final value is compared with the bound.
//! * Group bound: per group touched, the stored aggregate is read (conflict-checked, so two
//!   concurrent transactions moving the same group cannot both commit unless one saw the
//!   other), the delta applied, the bound checked, and the new aggregate written. Groups whose
//!   count and sum the transaction leaves unchanged are not read at all.

pub(crate) use crate::layout::META_TABLE;
pub(crate) use crate::layout::TOTAL_KEY;
use std::collections::BTreeMap;
use std::sync::Arc;

use cairn_doc::{DocId, FieldPath, Value};
use cairn_engine::{
    DocChange, EngineError, Extension, ExtensionKind, ExtensionTxn, Result as EngineResult,
};

use crate::amount::{amount_at, Amount};
use crate::error::InvariantError;
use crate::exact_sum::{ExactSum, SumOverflow};
use crate::group::{group_key, group_value, Aggregate, GROUPS_TABLE};
use crate::spec::{BoundOp, InvariantSpec, Rule};

/// The extension kind name of invariants in the catalog.
pub const INVARIANT_KIND: &str = "invariant";

/// A live invariant on one collection.
pub struct InvariantExtension {
    spec: InvariantSpec,
    collection: String,
}

impl InvariantExtension {
    /// The definition.
    pub fn spec(&self) -> &InvariantSpec {
        &self.spec
    }

    /// The error for a transaction that would break this invariant.
    pub(crate) fn violation(&self, detail: String, amounts: Vec<(&str, Value)>) -> EngineError {
        violation(&self.collection, &self.spec, detail, amounts)
    }

    /// The amount a document holds in `field`, refusing non-numbers.
    fn amount(&self, id: &DocId, doc: &Value, field: &FieldPath) -> EngineResult<Option<Amount>> {
        amount_at(doc, field).map_err(|found| {
            self.violation(
                format!(
                    "document `{id}` holds a {} in `{field}`; the invariant needs a number",
                    found.type_name()
                ),
                vec![("document", id.to_value()), ("value", found.clone())],
            )
        })
    }

    fn overflow(&self, _: SumOverflow) -> EngineError {
        self.violation(
            "the exact sum would leave the representable range".to_string(),
            Vec::new(),
        )
    }

    /// The exact delta of `field`'s sum over the changes.
    fn delta(&self, changes: &[DocChange<'_>], field: &FieldPath) -> EngineResult<ExactSum> {
        let mut delta = ExactSum::zero();
        for change in changes {
            self.add_doc(&mut delta, change.id, change.old, field, true)?;
            self.add_doc(&mut delta, change.id, change.new, field, false)?;
        }
        Ok(delta)
    }

    fn add_doc(
        &self,
        sum: &mut ExactSum,
        id: &DocId,
        doc: Option<&Value>,
        field: &FieldPath,
        subtract: bool,
    ) -> EngineResult<()> {
        let Some(amount) = doc.map(|doc| self.amount(id, doc, field)).transpose()? else {
            return Ok(());
        };
        let Some(amount) = amount else {
            return Ok(());
        };
        amount.add_to(sum, subtract).map_err(|e| self.overflow(e))
    }

    fn check_conserved(
        &self,
        txn: &mut ExtensionTxn<'_>,
        changes: &[DocChange<'_>],
        field: &FieldPath,
    ) -> EngineResult<()> {
        let delta = self.delta(changes, field)?;
        if delta.is_zero() {
            return Ok(());
        }
        // Only on the failure path: the conserved total, for the message.
        let before = txn
            .get(META_TABLE, TOTAL_KEY)?
            .and_then(|bytes| ExactSum::decode(&bytes).map(|(sum, _)| sum))
            .unwrap_or_default();
        let mut after = before.clone();
        after.add_sum(&delta).map_err(|e| self.overflow(e))?;
        Err(self.violation(
            format!(
                "the transaction changes sum({field}) by {} (from {} to {})",
                describe(&delta),
                describe(&before),
                describe(&after)
            ),
            vec![
                ("delta", delta.to_value()),
                ("before", before.to_value()),
                ("after", after.to_value()),
            ],
        ))
    }

    fn check_field_bound(
        &self,
        changes: &[DocChange<'_>],
        field: &FieldPath,
        op: BoundOp,
        bound: Amount,
    ) -> EngineResult<()> {
        let bound_sum = bound.to_sum().map_err(|e| self.overflow(e))?;
        for change in changes {
            let Some(doc) = change.new else { continue };
            let Some(amount) = self.amount(change.id, doc, field)? else {
                continue;
            };
            let value = amount.to_sum().map_err(|e| self.overflow(e))?;
            let order = value.cmp_exact(&bound_sum).map_err(|e| self.overflow(e))?;
            if !op.holds(order) {
                return Err(self.violation(
                    format!(
                        "document `{}` would have {field} = {amount}, which is not {} {bound}",
                        change.id,
                        op.as_str()
                    ),
                    vec![
                        ("document", change.id.to_value()),
                        ("value", amount.to_value()),
                        ("bound", bound.to_value()),
                    ],
                ));
            }
        }
        Ok(())
    }

    fn check_group_bound(
        &self,
        txn: &mut ExtensionTxn<'_>,
        changes: &[DocChange<'_>],
        (field, group): (&FieldPath, &FieldPath),
        op: BoundOp,
        bound: Amount,
    ) -> EngineResult<()> {
        let deltas = self.group_deltas(changes, field, group)?;
        let bound_sum = bound.to_sum().map_err(|e| self.overflow(e))?;
        for (key, (count_delta, sum_delta)) in deltas {
            if count_delta == 0 && sum_delta.is_zero() {
                continue;
            }
            let stored = match txn.get(GROUPS_TABLE, &key)? {
                Some(bytes) => {
                    Aggregate::decode(&bytes).ok_or_else(|| self.corrupt("aggregate"))?
                }
                None => Aggregate::default(),
            };
            let documents = i128::from(stored.documents) + i128::from(count_delta);
            let documents = u64::try_from(documents).map_err(|_| self.corrupt("group count"))?;
            let mut sum = stored.sum.clone();
            sum.add_sum(&sum_delta).map_err(|e| self.overflow(e))?;
            if documents == 0 {
                if !sum.is_zero() {
                    return Err(self.corrupt("an empty group with a non-zero sum"));
                }
                txn.delete(GROUPS_TABLE, &key)?;
                continue;
            }
            let order = sum.cmp_exact(&bound_sum).map_err(|e| self.overflow(e))?;
            if !op.holds(order) {
                let group_value = group_value(&key).unwrap_or(Value::Null);
                return Err(self.violation(
                    format!(
                        "group {group} = {} would sum {field} to {} (from {}), which is not {} {bound}",
                        group_value.to_json_string(),
                        describe(&sum),
                        describe(&stored.sum),
                        op.as_str()
                    ),
                    vec![
                        ("group", group_value),
                        ("before", stored.sum.to_value()),
                        ("after", sum.to_value()),
                        ("bound", bound.to_value()),
                    ],
                ));
            }
            let aggregate = Aggregate { documents, sum };
            txn.put(GROUPS_TABLE, &key, &aggregate.encode())?;
        }
        Ok(())
    }

    /// Per group key: (change in document count, exact change in the sum).
    fn group_deltas(
        &self,
        changes: &[DocChange<'_>],
        field: &FieldPath,
        group: &FieldPath,
    ) -> EngineResult<BTreeMap<Vec<u8>, (i64, ExactSum)>> {
        let mut deltas: BTreeMap<Vec<u8>, (i64, ExactSum)> = BTreeMap::new();
        for change in changes {
            for (doc, subtract) in [(change.old, true), (change.new, false)] {
                let Some(doc) = doc else { continue };
                let key = group_key(doc, group).map_err(|reason| {
                    self.violation(
                        format!("document `{}`: {reason}", change.id),
                        vec![("document", change.id.to_value())],
                    )
                })?;
                let entry = deltas.entry(key).or_default();
                entry.0 += if subtract { -1 } else { 1 };
                self.add_doc(&mut entry.1, change.id, Some(doc), field, subtract)?;
            }
        }
        Ok(deltas)
    }

    fn corrupt(&self, what: &str) -> EngineError {
        EngineError::from(InvariantError::Corrupt {
            invariant: self.spec.name.clone(),
            detail: format!("{what} in `{}`", self.collection),
        })
    }
}

/// The error for a transaction (or existing data) that breaks an invariant.
pub(crate) fn violation(
    collection: &str,
    spec: &InvariantSpec,
    detail: String,
    amounts: Vec<(&str, Value)>,
) -> EngineError {
    EngineError::InvariantViolation {
        collection: collection.to_string(),
        invariant: spec.name.clone(),
        rule: spec.rule.to_string(),
        detail,
        amounts: amounts
            .into_iter()
            .map(|(name, value)| (name.to_string(), value))
            .collect(),
    }
}

/// A sum for messages: exact for integers, else the nearest float marked `~`.
pub(crate) fn describe(sum: &ExactSum) -> String {
    match sum.to_value() {
        Value::Int(int) => int.to_string(),
        other if sum.is_integer() => other.to_json_string(),
        Value::Float(float) => format!("~{float:?}"),
        other => other.to_json_string(),
    }
}

impl Extension for InvariantExtension {
    fn on_write(&self, _txn: &mut ExtensionTxn<'_>, _change: &DocChange<'_>) -> EngineResult<()> {
        // Checked once per transaction, on its net effect, in `before_commit`.
        Ok(())
    }

    fn checks_at_commit(&self) -> bool {
        true
    }

    /// Only the summed, bounded and grouping fields are read: a transaction keeps just those
    /// of the documents it writes until commit, not whole documents.
    fn commit_fields(&self) -> Option<Vec<String>> {
        let fields = match &self.spec.rule {
            Rule::Conserve { field } | Rule::FieldBound { field, .. } => vec![field],
            Rule::GroupBound { field, group, .. } => vec![field, group],
        };
        Some(fields.into_iter().map(|f| f.first().to_string()).collect())
    }

    fn before_commit(
        &self,
        txn: &mut ExtensionTxn<'_>,
        changes: &[DocChange<'_>],
    ) -> EngineResult<()> {
        let result = match &self.spec.rule {
            Rule::Conserve { field } => self.check_conserved(txn, changes, field),
            Rule::FieldBound { field, op, bound } => {
                self.check_field_bound(changes, field, *op, *bound)
            }
            Rule::GroupBound {
                field,
                group,
                op,
                bound,
            } => self.check_group_bound(txn, changes, (field, group), *op, *bound),
        };
        // The instance may be older than a rename; name the collection as written now.
        result.map_err(|err| match err {
            EngineError::InvariantViolation {
                invariant,
                rule,
                detail,
                amounts,
                ..
            } => EngineError::InvariantViolation {
                collection: txn.collection().to_string(),
                invariant,
                rule,
                detail,
                amounts,
            },
            other => other,
        })
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// The extension kind that instantiates invariants from their catalog entries.
#[derive(Debug, Default)]
pub struct InvariantExtensionKind;

impl ExtensionKind for InvariantExtensionKind {
    fn kind(&self) -> &str {
        INVARIANT_KIND
    }

    fn instantiate(
        &self,
        collection: &str,
        name: &str,
        config: &Value,
    ) -> EngineResult<Arc<dyn Extension>> {
        let spec = InvariantSpec::from_config(name, config).map_err(EngineError::from)?;
        Ok(Arc::new(InvariantExtension {
            spec,
            collection: collection.to_string(),
        }))
    }
}
