//! A linearizability checker for histories of register operations (read, write,
//! compare-and-swap) on independent keys: the Wing–Gong algorithm with Lowe's memoisation, as
//! Porcupine implements it. The history is split per key (registers are independent, so the
//! whole history is linearizable iff every key's is); each key's operations are searched
//! depth-first for an order that respects real time and the register's semantics, caching
//! (linearized set, state) pairs already explored.
//!
//! Why ours: no maintained Rust crate checks histories of this size (see
//! `../shared/NOTES.md`); the algorithm is short and the unit tests below pin it on histories
//! known to be linearizable or not.
//!
//! An operation whose outcome the client does not know (a timeout, a dropped connection) has
//! output [`Output::Unknown`] and return time `u64::MAX`: it may have taken effect at any
//! point after its call, or never.

use std::collections::{HashMap, HashSet};

/// A register's value (`None`: absent).
pub type State = Option<String>;

/// What a client asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Read the register.
    Read,
    /// Set it.
    Write(State),
    /// Set it to `new` if it holds `expected`.
    Cas {
        /// The value it must hold.
        expected: State,
        /// The value to store.
        new: State,
    },
}

/// What the client was told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// The value read.
    Read(State),
    /// The write was acknowledged.
    Written,
    /// Whether the compare-and-swap applied.
    Cas(bool),
    /// No answer: the operation may or may not have taken effect.
    Unknown,
}

/// One operation of a history.
#[derive(Debug, Clone)]
pub struct Operation {
    /// The register.
    pub key: String,
    /// What was asked.
    pub input: Input,
    /// What was answered.
    pub output: Output,
    /// When it was called (any monotonic clock, e.g. nanoseconds since the test began).
    pub call: u64,
    /// When the answer arrived (`u64::MAX` when it never did).
    pub ret: u64,
}

/// The register model: the state after `input` answered `output` in `state`, or `None` when
/// that answer is impossible there.
fn step(state: &State, input: &Input, output: &Output) -> Option<State> {
    let unknown = *output == Output::Unknown;
    match input {
        Input::Read => match output {
            Output::Read(seen) if seen == state => Some(state.clone()),
            Output::Unknown => Some(state.clone()),
            _ => None,
        },
        Input::Write(value) => Some(value.clone()),
        Input::Cas { expected, new } => {
            let holds = expected == state;
            match (holds, output) {
                (true, Output::Cas(true)) => Some(new.clone()),
                (true, _) if unknown => Some(new.clone()),
                (false, Output::Cas(false)) => Some(state.clone()),
                (false, _) if unknown => Some(state.clone()),
                _ => None,
            }
        }
    }
}

/// The verdict for a whole history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every key's history is linearizable.
    Linearizable,
    /// This key's history is not.
    Violation {
        /// The key.
        key: String,
    },
}

/// Checks a history whose registers all start absent.
pub fn check(history: &[Operation]) -> Verdict {
    let mut by_key: HashMap<&str, Vec<&Operation>> = HashMap::new();
    for op in history {
        by_key.entry(op.key.as_str()).or_default().push(op);
    }
    let mut keys: Vec<_> = by_key.keys().copied().collect();
    keys.sort_unstable();
    for key in keys {
        if !check_key(&by_key[key]) {
            return Verdict::Violation {
                key: key.to_string(),
            };
        }
    }
    Verdict::Linearizable
}

const NONE: usize = usize::MAX;

/// A node of the doubly linked list of call and return events.
#[derive(Clone)]
struct Event {
    op: usize,
    is_call: bool,
    /// For a call: its return event.
    matched: usize,
    prev: usize,
    next: usize,
}

/// A set of operation indexes.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Bits(Vec<u64>);

impl Bits {
    fn set(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }
    fn clear(&mut self, i: usize) {
        self.0[i / 64] &= !(1 << (i % 64));
    }
}

/// Wing–Gong/Lowe search over one key's operations.
fn check_key(ops: &[&Operation]) -> bool {
    // Events sorted by time; at equal times calls first (the more permissive order).
    let mut order: Vec<(u64, bool, usize)> = Vec::with_capacity(ops.len() * 2);
    for (i, op) in ops.iter().enumerate() {
        order.push((op.call, true, i));
        order.push((op.ret.max(op.call), false, i));
    }
    order.sort_by_key(|&(time, is_call, op)| (time, !is_call, op));
    // Node 0 is the head sentinel.
    let mut events = vec![Event {
        op: NONE,
        is_call: false,
        matched: NONE,
        prev: NONE,
        next: NONE,
    }];
    let mut return_of = vec![NONE; ops.len()];
    let mut call_of = vec![NONE; ops.len()];
    for &(_, is_call, op) in &order {
        let index = events.len();
        let prev = index - 1;
        events[prev].next = index;
        events.push(Event {
            op,
            is_call,
            matched: NONE,
            prev,
            next: NONE,
        });
        if is_call {
            call_of[op] = index;
        } else {
            return_of[op] = index;
        }
    }
    for op in 0..ops.len() {
        events[call_of[op]].matched = return_of[op];
    }
    let lift = |events: &mut Vec<Event>, call: usize| {
        let ret = events[call].matched;
        let (p, n) = (events[call].prev, events[call].next);
        events[p].next = n;
        if n != NONE {
            events[n].prev = p;
        }
        let (p, n) = (events[ret].prev, events[ret].next);
        events[p].next = n;
        if n != NONE {
            events[n].prev = p;
        }
    };
    let unlift = |events: &mut Vec<Event>, call: usize| {
        let ret = events[call].matched;
        let (p, n) = (events[ret].prev, events[ret].next);
        events[p].next = ret;
        if n != NONE {
            events[n].prev = ret;
        }
        let (p, n) = (events[call].prev, events[call].next);
        events[p].next = call;
        if n != NONE {
            events[n].prev = call;
        }
    };
    let mut linearized = Bits(vec![0; ops.len().div_ceil(64)]);
    let mut cache: HashSet<(Bits, State)> = HashSet::new();
    let mut stack: Vec<(usize, State)> = Vec::new();
    let mut state: State = None;
    let mut entry = events[0].next;
    while events[0].next != NONE {
        if entry == NONE {
            // Only reachable if a return precedes its call, which sorting rules out.
            return false;
        }
        let event = events[entry].clone();
        if event.is_call {
            let op = ops[event.op];
            if let Some(next_state) = step(&state, &op.input, &op.output) {
                let mut next_set = linearized.clone();
                next_set.set(event.op);
                if cache.insert((next_set.clone(), next_state.clone())) {
                    stack.push((entry, state));
                    state = next_state;
                    linearized = next_set;
                    lift(&mut events, entry);
                    entry = events[0].next;
                    continue;
                }
            }
            entry = event.next;
        } else {
            // A return whose call is not linearized yet: backtrack.
            let Some((call, previous)) = stack.pop() else {
                return false;
            };
            linearized.clear(events[call].op);
            state = previous;
            unlift(&mut events, call);
            entry = events[call].next;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> State {
        Some(v.to_string())
    }

    fn op(input: Input, output: Output, call: u64, ret: u64) -> Operation {
        Operation {
            key: "k".into(),
            input,
            output,
            call,
            ret,
        }
    }

    #[test]
    fn a_sequential_history_obeying_the_register_is_linearizable() {
        let h = vec![
            op(Input::Write(s("a")), Output::Written, 0, 1),
            op(Input::Read, Output::Read(s("a")), 2, 3),
            op(
                Input::Cas {
                    expected: s("a"),
                    new: s("b"),
                },
                Output::Cas(true),
                4,
                5,
            ),
            op(
                Input::Cas {
                    expected: s("a"),
                    new: s("c"),
                },
                Output::Cas(false),
                6,
                7,
            ),
            op(Input::Read, Output::Read(s("b")), 8, 9),
        ];
        assert_eq!(check(&h), Verdict::Linearizable);
    }

    #[test]
    fn overlapping_operations_may_take_effect_in_either_order() {
        // The read overlaps both writes and sees the first one's value: fine if it is
        // linearized between them.
        let h = vec![
            op(Input::Write(s("1")), Output::Written, 0, 10),
            op(Input::Write(s("2")), Output::Written, 1, 11),
            op(Input::Read, Output::Read(s("1")), 2, 12),
            op(Input::Read, Output::Read(s("2")), 13, 14),
        ];
        assert_eq!(check(&h), Verdict::Linearizable);
    }

    #[test]
    fn a_stale_read_after_an_acknowledged_write_is_a_violation() {
        let h = vec![
            op(Input::Write(s("1")), Output::Written, 0, 1),
            op(Input::Write(s("2")), Output::Written, 2, 3),
            op(Input::Read, Output::Read(s("1")), 4, 5),
        ];
        assert_eq!(check(&h), Verdict::Violation { key: "k".into() });
    }

    #[test]
    fn two_winners_of_one_job_is_a_violation() {
        let take = |call, ret| {
            op(
                Input::Cas {
                    expected: s("waiting"),
                    new: s("taken"),
                },
                Output::Cas(true),
                call,
                ret,
            )
        };
        let h = vec![
            op(Input::Write(s("waiting")), Output::Written, 0, 1),
            take(2, 10),
            take(3, 11),
        ];
        assert_eq!(check(&h), Verdict::Violation { key: "k".into() });
    }

    #[test]
    fn an_unknown_outcome_may_or_may_not_have_happened() {
        let h = vec![
            op(Input::Write(s("a")), Output::Written, 0, 1),
            op(Input::Write(s("b")), Output::Unknown, 2, u64::MAX),
            op(Input::Read, Output::Read(s("a")), 3, 4),
            op(Input::Read, Output::Read(s("b")), 5, 6),
        ];
        assert_eq!(check(&h), Verdict::Linearizable);
        let h = vec![
            op(Input::Write(s("a")), Output::Written, 0, 1),
            op(Input::Write(s("b")), Output::Unknown, 2, u64::MAX),
            op(Input::Read, Output::Read(s("b")), 3, 4),
            op(Input::Read, Output::Read(s("a")), 5, 6),
        ];
        assert_eq!(check(&h), Verdict::Violation { key: "k".into() });
    }

    #[test]
    fn keys_are_checked_independently() {
        let mut h = vec![op(Input::Write(s("1")), Output::Written, 0, 1)];
        h.push(Operation {
            key: "other".into(),
            input: Input::Read,
            output: Output::Read(None),
            call: 2,
            ret: 3,
        });
        assert_eq!(check(&h), Verdict::Linearizable);
    }

    #[test]
    fn a_long_concurrent_history_is_checked_quickly() {
        // 4 clients, 200 rounds of overlapping increments by CAS on one register.
        let mut h = Vec::new();
        for value in 0..200u64 {
            let t = value * 20;
            for client in 0..4u64 {
                let won = client == 0;
                let cur = value.to_string();
                let next = (value + 1).to_string();
                h.push(op(
                    Input::Cas {
                        expected: s(&cur),
                        new: s(&next),
                    },
                    Output::Cas(won),
                    t + client,
                    t + 10 + client,
                ));
            }
        }
        h.insert(0, op(Input::Write(s("0")), Output::Written, 0, 0));
        for o in h.iter_mut().skip(1) {
            o.call += 1;
            o.ret += 1;
        }
        assert_eq!(check(&h), Verdict::Linearizable);
    }
}
