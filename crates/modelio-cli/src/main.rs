//! The `modelio` command. Not implemented yet: it says so and exits with status 1.
fn main() {
    let _ = modelio::registry();
    eprintln!("modelio: the command line is not implemented yet");
    std::process::exit(1);
}
