//! The project import parsers (`POST /api/projects/import`, `chengguo import-projects`): csv and
//! xlsx bytes from anyone with the administrator's account. Bad files are refused with a
//! message, never a panic.

#![no_main]

use chengguo_api::projects::{self, ImportFormat};
use libfuzzer_sys::fuzz_target;

fuzz_target!(
    // `parse_xlsx` catches panics of the xlsx reader (and refuses the file), as the server
    // does; libFuzzer's hook would abort on them all the same, so it is replaced by a silent
    // one. A panic that escapes the parsers still aborts the run and is kept as a crash.
    init: std::panic::set_hook(Box::new(|_| {})),
    |data: &[u8]| {
        let _ = projects::parse_csv(data);
        let _ = projects::parse_xlsx(data);
        for content_type in [None, Some("text/csv"), Some("application/octet-stream")] {
            if let Ok(format) = ImportFormat::detect(content_type, data) {
                let _ = projects::parse_file(data, format);
            }
        }
        let _ = ImportFormat::of_path(std::path::Path::new("projects.xlsx"), data);
    }
);
