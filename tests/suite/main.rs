//! The workspace's integration suite: one test binary, one module per area.

mod engine;
mod engine_props;
mod engine_race;
