//! Hard limits every parser enforces, so a hostile or broken file costs bounded memory and time.

/// The limits for one upload. `Limits::default()` is what the server uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes after decompression, for one file or one archive in total.
    pub max_decompressed_bytes: u64,
    /// Decompressed bytes per compressed byte beyond which a stream is a bomb (checked once the
    /// output passes 1 MiB).
    pub max_compression_ratio: u64,
    /// XML element nesting, JSON nesting, Allure step nesting.
    pub max_depth: usize,
    /// One attribute value, or one JSON string.
    pub max_attribute_bytes: usize,
    /// One text node (a stack trace, a captured output), after which it is cut, not refused.
    pub max_text_bytes: usize,
    /// Elements in one XML document (or entries in one JSON array).
    pub max_elements: u64,
    /// Entries in one zip archive.
    pub max_zip_entries: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_decompressed_bytes: 2 * 1024 * 1024 * 1024,
            max_compression_ratio: 200,
            max_depth: 64,
            max_attribute_bytes: 64 * 1024,
            max_text_bytes: 1024 * 1024,
            max_elements: 50_000_000,
            max_zip_entries: 100_000,
        }
    }
}
