//! Placeholder replaced by the benchmark implementation.

/// Benchmark arguments.
#[derive(Debug, clap::Args)]
pub struct CoreArgs {}

/// Runs the benchmark.
pub fn run(_args: &CoreArgs) -> anyhow::Result<()> {
    anyhow::bail!("not built yet")
}
