#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    modelio_server::fuzzing::upload(data);
});
