#[derive(Debug, clap::Args)]
pub struct PlotArgs {}
pub fn run(_a: PlotArgs) -> anyhow::Result<()> {
    Ok(())
}
