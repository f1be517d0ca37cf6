//! Behaviour of cairn-doc through its public API, in one test binary (one link instead of five).

mod alloc_counter;
mod codec;
mod geometry;
mod hostile_input;
mod json;
mod mongo_json;
mod patch;
mod rules;
mod strategies;
