#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    io_core::fuzzing::assemble(data);
});
