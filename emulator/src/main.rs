//! `freebusy-emulator`: run the Microsoft 365 stand-in on its own.

use clap::Parser;

/// Serve the emulator's token endpoint and Graph on a local address.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8800")]
    listen: std::net::SocketAddr,
    /// Serve HTTPS with a throwaway CA, written to this file (for HTTPS-only clients such as MSAL).
    #[arg(long)]
    tls_ca_out: Option<std::path::PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let emu = match &args.tls_ca_out {
        None => freebusy_emulator::Emulator::start(args.listen, freebusy_emulator::Options::default()).await?,
        Some(path) => {
            let (emu, ca) =
                freebusy_emulator::Emulator::start_tls(args.listen, freebusy_emulator::Options::default()).await?;
            std::fs::write(path, ca)?;
            println!("trust the test CA in {}", path.display());
            emu
        }
    };
    println!("emulator serving {}", emu.base_url);
    println!("demo tenant {} client {}", freebusy_emulator::demo::TENANT_ID, freebusy_emulator::demo::CLIENT_ID);
    tokio::signal::ctrl_c().await?;
    Ok(())
}
