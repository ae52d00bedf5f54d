//! `freebusy-emulator`: run the Microsoft 365 stand-in on its own.

use clap::Parser;

/// Serve the emulator's token endpoint and Graph on a local address.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8800")]
    listen: std::net::SocketAddr,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let emu = freebusy_emulator::Emulator::start(args.listen, freebusy_emulator::Options::default()).await?;
    println!("emulator serving {}", emu.base_url);
    println!("demo tenant {} client {}", freebusy_emulator::demo::TENANT_ID, freebusy_emulator::demo::CLIENT_ID);
    tokio::signal::ctrl_c().await?;
    Ok(())
}
