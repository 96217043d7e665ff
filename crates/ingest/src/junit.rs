//! JUnit XML, streamed: the reader pulls one `<testcase>` at a time out of a `BufRead`, so a
//! million-case report costs the memory of one case plus the open elements around it, never a
//! DOM. Every dialect we have seen in the wild is one schema with extensions, so one parser reads
//! them all: Ant/Jenkins, Maven Surefire (`flakyFailure`, `rerunFailure`, …), pytest (xunit1 and
//! xunit2), jest-junit and cargo-nextest.
//!
//! # From `<testcase>` to `TestResult`
//!
//! * `<failure>` → `Failed`, `<error>` → `Errored`, `<skipped>` → `Skipped` (pytest's xfail too:
//!   its reason stays the message), otherwise `Passed`. A `status` of `notrun`, `disabled`,
//!   `skipped` or `ignored` with no child says skipped as well (GoogleTest).
//! * The message is the `message` attribute, else the first non-blank line of the body, else the
//!   `type` attribute. The trace is the `<stackTrace>` child (Surefire 3, nextest reruns), else
//!   the body. A `<skipped>` element's `type` is kept as the label `skipped.type`.
//! * Retries, oldest first, in document order, which is the order they ran in: `flakyFailure` /
//!   `flakyError` are failed tries of a test that then passed (outcome `Passed`, the tries in
//!   `attempts`, so the result is flaky). When a test failed every time, Surefire and nextest
//!   write the first run as `<failure>`/`<error>` (timed by the testcase's `time`) and each retry
//!   as `rerunFailure`/`rerunError`: the last of them is the result, the others are `attempts`.
//!   The output inside a retry is not kept (`Attempt` has no place for it).
//! * `time` is in seconds; commas are thousands separators (Surefire's `SUREFIRE_TIME` pattern,
//!   `1,234.5`), except a lone comma not followed by exactly three digits, which is read as a
//!   decimal comma.
//! * `file` comes from the testcase, else from the innermost testsuite that has one. `line` is
//!   1-based, except pytest's, which is 0-based and gets 1 added (a report is pytest's when its
//!   suite is named `pytest`/`pytest tests` or the case's file ends in `.py`).
//!
//! # Identity: suite path, name, parameters
//!
//! The rule is chosen so the same test gets the same identity whichever tool or report format
//! described it (pytest's `tests.test_api.TestUsers` + `test_x[1-2]` here and the Allure
//! parent-suite/suite/sub-suite `tests`/`test_api`/`TestUsers` there):
//!
//! 1. A dotted path is split into parts: `tests.test_api.TestUsers` → `tests`, `test_api`,
//!    `TestUsers`; `com.acme.Outer$Inner` → `com`, `acme`, `Outer`, `Inner`; Rust and C++ paths
//!    split on `::`, PHP on `\`. Only identifier-like text is split (letters, digits, `_`, `-`):
//!    a classname with spaces or slashes (jest titles, file paths, Go import paths) is one part.
//! 2. The suite path is the names of the enclosing `<testsuite>` elements (outermost first), each
//!    split as above, followed by the testcase's `classname` split. A testsuite name is left out
//!    when the classname already starts with it (Surefire, Ant and nextest repeat the class or
//!    binary as the suite name), when it is a producer's placeholder (`pytest`, jest-junit's
//!    `undefined`, mocha's `Root Suite`), or when it is empty. The `<testsuites>` root's name is
//!    never part of it.
//! 3. A classname equal to the name is ignored (jest-junit's default templates write the full
//!    title into both).
//! 4. Parameters: a name ending in a bracketed id with no space before the bracket (`test_x[1-2]`,
//!    `add(int, int)[1]`) becomes the name before the bracket plus the parameter `("id", "1-2")`,
//!    in every dialect. pytest's ids name no parameters, so the id is the one parameter.
//! 5. A name that is a Rust path (`tests::parses_time`, nextest) moves its modules into the suite
//!    path: `shop` + `tests::parses_time` → suite `shop`, `tests`, name `parses_time`.
//!
//! # Properties
//!
//! `<property name value/>` (or the value as element text) inside a testcase becomes a label of
//! that result. Inside a testsuite (or the root) it becomes a label of every result in it read
//! after it (at most 64 inherited labels a case) and an `environment` entry of the report (first
//! value wins, at most 256 entries) — except that branch, commit, build URL and build name keys
//! (`branch`, `git.commit`, `ci.build.url`, `BUILD_NUMBER`, …) fill those `ReportMeta` fields
//! instead, and that the JVM system properties Surefire dumps (`java.*`, `user.*`, `os.*`, …) are
//! not labels and only a few of them (`java.version`, `os.name`, …) are kept as environment. A
//! testsuite's `hostname` attribute is an environment entry too.
//!
//! # Safety
//!
//! No DTD is ever read: a `<!DOCTYPE` anywhere refuses the document, so there is no entity
//! expansion and no external entity (XXE) to fetch. Only the five predefined entities and numeric
//! character references are known; any other reference is refused. Depth, element count and
//! attribute size are limited by `Limits` (`IngestError::Limit`); a text node longer than
//! `max_text_bytes` is cut and marked, never refused. Malformed XML, text outside the root, a
//! truncated document and invalid UTF-8 are `IngestError::Syntax` with the 1-based line and column
//! (in bytes) where it went wrong, counted while reading rather than by reading the file again.
//! Messages quote at most a few dozen characters of the input. A repeated attribute is not
//! refused (looking for one costs an allocation per element): the last one wins.
//!
//! The one thing held in full is the event being read: quick-xml buffers a whole text node or tag
//! before it is cut to size, so a single giant text node costs its size in memory once (the
//! upload itself is bounded by `max_decompressed_bytes`).

use std::borrow::Cow;
use std::collections::HashSet;
use std::io::{self, BufRead, Read};

use quick_xml::XmlVersion;
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::{Reader, errors::IllFormedError};

use crate::{
    Attempt, IngestError, Limits, Outcome, ReportMeta, ResultSource, TestIdentity, TestResult,
};

const FORMAT: &str = "junit";
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";
/// How much of the input an error message may quote (in bytes, per quoted piece).
const QUOTE_BYTES: usize = 48;
/// An error message is never longer than this.
const MESSAGE_BYTES: usize = 240;
/// A message taken from the first line of a body is cut here.
const MESSAGE_LINE_BYTES: usize = 1000;
/// Suite properties copied into each case: a suite with thousands of properties must not
/// multiply into every one of a million results.
const MAX_INHERITED_LABELS: usize = 64;
/// Distinct `environment` entries kept for the report.
const MAX_ENVIRONMENT: usize = 256;
/// The read buffer is given back after an event bigger than this, so one huge text node does
/// not pin its size for the rest of the file.
const KEEP_BUFFER_BYTES: usize = 1 << 20;

/// A JUnit XML report being read. See the module documentation for the rules.
pub struct JunitReader<R: BufRead> {
    xml: Reader<Counted<R>>,
    buf: Vec<u8>,
    /// Where the event being read started.
    mark: Mark,
    parser: Parser,
    status: Status,
}

enum Status {
    Reading,
    Done,
    Failed(IngestError),
}

impl<R: BufRead> JunitReader<R> {
    pub fn new(reader: R, limits: Limits) -> Self {
        let mut xml = Reader::from_reader(Counted::new(reader));
        let config = xml.config_mut();
        config.check_end_names = true;
        config.expand_empty_elements = false;
        config.trim_text(false);
        JunitReader {
            xml,
            buf: Vec::with_capacity(8 * 1024),
            mark: Mark::default(),
            parser: Parser::new(limits),
            status: Status::Reading,
        }
    }

    /// Reads events until a testcase closes or the document ends.
    fn advance(&mut self) -> Result<Option<TestResult>, IngestError> {
        loop {
            if self.buf.capacity() > KEEP_BUFFER_BYTES {
                self.buf = Vec::with_capacity(8 * 1024);
            }
            self.buf.clear();
            self.mark = self.xml.get_ref().mark();
            let step = match self.xml.read_event_into(&mut self.buf) {
                Ok(event) => self.parser.on_event(event, self.mark.offset),
                Err(err) => Err(Fault::Xml(err)),
            };
            match step {
                Ok(Step::Continue) => {}
                Ok(Step::Ready) => {
                    if let Some(result) = self.parser.ready.take() {
                        return Ok(Some(result));
                    }
                }
                Ok(Step::End) => return Ok(None),
                Err(fault) => return Err(self.refusal(fault)),
            }
        }
    }

    /// Turns a fault into the error a person reads: where, and what.
    fn refusal(&self, fault: Fault) -> IngestError {
        let (at, message) = match fault {
            Fault::Limit(what) => return IngestError::Limit(cap(what, MESSAGE_BYTES)),
            Fault::Syntax { at, message } => (at, message),
            Fault::Xml(quick_xml::Error::Io(err)) => {
                // A decompressing stream's refusal (a size limit, a corrupt body) is the answer.
                if let Some(refused) = crate::decompress::refusal(&err) {
                    return refused;
                }
                if let Some(inner) = err.get_ref().and_then(|e| e.downcast_ref::<IngestError>()) {
                    return inner.clone();
                }
                (
                    self.xml.get_ref().offset,
                    format!("could not read the report: {err}"),
                )
            }
            Fault::Xml(quick_xml::Error::Encoding(_)) => {
                let valid =
                    std::str::from_utf8(&self.buf).map_or_else(|e| e.valid_up_to(), str::len);
                (self.mark.offset + valid as u64, self.parser.utf8_message())
            }
            Fault::Xml(err) => {
                let at = self.xml.error_position().max(self.mark.offset);
                (at, xml_error_message(&err))
            }
        };
        let (line, column) = self.locate(at);
        IngestError::Syntax {
            format: FORMAT,
            line,
            column,
            message: cap(message, MESSAGE_BYTES),
        }
    }

    /// Line and column of a byte offset inside (or at the end of) the event being read: the
    /// counts at the event's start plus the newlines in the event's bytes before `at`.
    fn locate(&self, at: u64) -> (u64, u64) {
        let live = self.xml.get_ref();
        let event_end = self.mark.offset + self.buf.len() as u64;
        if at >= live.offset || at > event_end {
            return (live.newlines + 1, at.saturating_sub(live.line_start) + 1);
        }
        let k = usize::try_from(at.saturating_sub(self.mark.offset)).unwrap_or(usize::MAX);
        let before = self.buf.get(..k).unwrap_or(&self.buf);
        match before.iter().rposition(|&b| b == b'\n') {
            Some(last) => {
                let line = self.mark.newlines + count_newlines(before) + 1;
                (line, (before.len() - last) as u64)
            }
            None => (
                self.mark.newlines + 1,
                at.saturating_sub(self.mark.line_start) + 1,
            ),
        }
    }
}

impl<R: BufRead> ResultSource for JunitReader<R> {
    fn next_result(&mut self) -> Result<Option<TestResult>, IngestError> {
        match &self.status {
            Status::Failed(err) => return Err(err.clone()),
            Status::Done => return Ok(None),
            Status::Reading => {}
        }
        match self.advance() {
            Ok(Some(result)) => Ok(Some(result)),
            Ok(None) => {
                self.status = Status::Done;
                Ok(None)
            }
            Err(err) => {
                self.status = Status::Failed(err.clone());
                Err(err)
            }
        }
    }

    fn meta(&self) -> &ReportMeta {
        &self.parser.meta
    }
}

/// Whether the first bytes of a file look like JUnit XML: after an optional BOM, whitespace, the
/// XML declaration, comments, processing instructions and a DOCTYPE (which the reader will then
/// refuse with a clear message), the root element is `<testsuites` or `<testsuite`, possibly with
/// a namespace prefix.
pub fn looks_like_junit(prefix: &[u8]) -> bool {
    let mut rest = prefix.strip_prefix(UTF8_BOM).unwrap_or(prefix);
    loop {
        rest = trim_xml_space(rest);
        let skipped = if rest.starts_with(b"<?") {
            skip_past(rest, b"?>")
        } else if rest.starts_with(b"<!--") {
            skip_past(rest, b"-->")
        } else if rest.len() >= 9 && rest[..9].eq_ignore_ascii_case(b"<!DOCTYPE") {
            skip_doctype(rest)
        } else {
            break;
        };
        match skipped {
            Some(after) => rest = after,
            None => return false,
        }
    }
    let Some(mut tag) = rest.strip_prefix(b"<") else {
        return false;
    };
    // A namespace prefix (`<ns:testsuite`) is allowed, as the reader matches local names.
    if let Some(colon) = tag.iter().take(64).position(|&b| b == b':')
        && tag[..colon]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    {
        tag = &tag[colon + 1..];
    }
    for root in [&b"testsuites"[..], &b"testsuite"[..]] {
        if let Some(after) = tag.strip_prefix(root) {
            return match after.first() {
                None => true,
                Some(b) => matches!(b, b'>' | b'/' | b' ' | b'\t' | b'\r' | b'\n'),
            };
        }
    }
    false
}

fn trim_xml_space(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        .unwrap_or(bytes.len());
    &bytes[start..]
}

fn skip_past<'a>(bytes: &'a [u8], end: &[u8]) -> Option<&'a [u8]> {
    bytes
        .windows(end.len())
        .position(|w| w == end)
        .map(|i| &bytes[i + end.len()..])
}

fn skip_doctype(bytes: &[u8]) -> Option<&[u8]> {
    let close = bytes.iter().position(|&b| b == b'>')?;
    match bytes.iter().position(|&b| b == b'[') {
        Some(open) if open < close => skip_past(&bytes[open..], b"]>")
            .or_else(|| skip_past(&bytes[open..], b"]").and_then(|r| skip_past(r, b">"))),
        _ => Some(&bytes[close + 1..]),
    }
}

// ---------------------------------------------------------------------------------------------
// Input with line counting.

/// The input as quick-xml reads it, counting newlines as bytes pass, so an error's line and
/// column cost a subtraction instead of a second pass over the file. It also drops a UTF-8 BOM
/// before quick-xml sees it, so quick-xml's offsets and ours are the same numbers.
struct Counted<R> {
    inner: R,
    /// Bytes consumed, not counting a BOM.
    offset: u64,
    /// Newlines consumed.
    newlines: u64,
    /// Offset just after the last newline consumed (the start of the current line).
    line_start: u64,
    /// Bytes of a leading BOM seen so far (3 once decided).
    bom_matched: usize,
}

#[derive(Debug, Clone, Copy, Default)]
struct Mark {
    offset: u64,
    newlines: u64,
    line_start: u64,
}

impl<R: BufRead> Counted<R> {
    fn new(inner: R) -> Self {
        Counted {
            inner,
            offset: 0,
            newlines: 0,
            line_start: 0,
            bom_matched: 0,
        }
    }

    fn mark(&self) -> Mark {
        Mark {
            offset: self.offset,
            newlines: self.newlines,
            line_start: self.line_start,
        }
    }
}

impl<R: BufRead> Read for Counted<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Counted<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        // The BOM is matched byte by byte, so a reader that hands out one byte at a time loses
        // it too. Bytes that start like a BOM and then differ are dropped: such a document starts
        // with text outside the root element and is refused anyway.
        while self.bom_matched < UTF8_BOM.len() {
            let available = self.inner.fill_buf()?;
            let wanted = &UTF8_BOM[self.bom_matched..];
            let n = available.len().min(wanted.len());
            if n == 0 || available[..n] != wanted[..n] {
                self.bom_matched = UTF8_BOM.len();
                break;
            }
            self.inner.consume(n);
            self.bom_matched += n;
        }
        self.inner.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        if amt == 0 {
            return;
        }
        // The bytes being consumed are still in the inner buffer: asking for it again does no I/O.
        if let Ok(available) = self.inner.fill_buf() {
            let seen = &available[..amt.min(available.len())];
            if let Some(last) = seen.iter().rposition(|&b| b == b'\n') {
                self.newlines += count_newlines(&seen[..last]) + 1;
                self.line_start = self.offset + last as u64 + 1;
            }
        }
        self.inner.consume(amt);
        self.offset += amt as u64;
    }
}

fn count_newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

// ---------------------------------------------------------------------------------------------
// The JUnit state machine.

/// Why parsing stopped, before it is located in the input.
enum Fault {
    Xml(quick_xml::Error),
    Syntax { at: u64, message: String },
    Limit(String),
}

fn syntax(at: u64, message: impl Into<String>) -> Fault {
    Fault::Syntax {
        at,
        message: message.into(),
    }
}

enum Step {
    Continue,
    /// A testcase closed: its result is in `Parser::ready` (kept out of the enum, which is
    /// returned for every event).
    Ready,
    End,
}

/// What an open element is to us. The data of suites and the open case live beside the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Frame {
    /// `<testsuites>` (it also has an entry in `suites`, without a name).
    Suites,
    Suite,
    Properties(Owner),
    Case,
    /// `<failure>`, `<error>`, `<skipped>`, `<flakyFailure>`, …: the case's `current` try.
    Try,
    /// An element whose text we keep.
    Text(Slot),
    /// Anything else, with everything inside it.
    Ignored,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    Suite,
    Case,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Stdout,
    Stderr,
    StackTrace,
    PropertyValue(Owner),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TryKind {
    Failure,
    Error,
    Skipped,
    FlakyFailure,
    FlakyError,
    RerunFailure,
    RerunError,
}

impl TryKind {
    fn from_element(name: &str) -> Option<Self> {
        Some(match name {
            "failure" => TryKind::Failure,
            "error" => TryKind::Error,
            "skipped" => TryKind::Skipped,
            "flakyFailure" => TryKind::FlakyFailure,
            "flakyError" => TryKind::FlakyError,
            "rerunFailure" => TryKind::RerunFailure,
            "rerunError" => TryKind::RerunError,
            _ => return None,
        })
    }

    fn outcome(self) -> Outcome {
        match self {
            TryKind::Failure | TryKind::FlakyFailure | TryKind::RerunFailure => Outcome::Failed,
            TryKind::Error | TryKind::FlakyError | TryKind::RerunError => Outcome::Errored,
            TryKind::Skipped => Outcome::Skipped,
        }
    }

    fn is_flaky(self) -> bool {
        matches!(self, TryKind::FlakyFailure | TryKind::FlakyError)
    }
}

/// An open `<testsuite>` (or the `<testsuites>` root).
#[derive(Debug, Default)]
struct SuiteData {
    /// The name split into parts, when it counts for identities.
    name_parts: Option<Vec<String>>,
    file: Option<String>,
    labels: Vec<(String, String)>,
}

/// An open `<testcase>`.
#[derive(Debug, Default)]
struct CaseData {
    name: String,
    classname: Option<String>,
    file: Option<String>,
    line: Option<u32>,
    duration_ms: Option<u64>,
    not_run: bool,
    tries: Vec<Try>,
    skip: Option<Try>,
    current: Option<OpenTry>,
    stdout: TextBuf,
    stderr: TextBuf,
    labels: Vec<(String, String)>,
}

/// A failure, error, skip or retry element being read.
#[derive(Debug)]
struct OpenTry {
    kind: TryKind,
    message: Option<String>,
    kind_name: Option<String>,
    duration_ms: Option<u64>,
    body: TextBuf,
    stack: TextBuf,
}

/// A failure, error, skip or retry element, read.
#[derive(Debug)]
struct Try {
    kind: TryKind,
    message: Option<String>,
    trace: Option<String>,
    duration_ms: Option<u64>,
    type_name: Option<String>,
}

impl Try {
    fn into_attempt(self) -> Attempt {
        Attempt {
            outcome: self.kind.outcome(),
            duration_ms: self.duration_ms,
            message: self.message,
            trace: self.trace,
        }
    }
}

/// Text collected up to a limit: what is over it is counted, not kept.
#[derive(Debug, Default)]
struct TextBuf {
    text: String,
    dropped: u64,
}

impl TextBuf {
    fn push(&mut self, piece: &str, limit: usize) {
        // Once cut, later pieces are dropped too: what is kept is the start, without holes.
        let room = if self.dropped > 0 {
            0
        } else {
            limit.saturating_sub(self.text.len())
        };
        if piece.len() <= room {
            self.text.push_str(piece);
            return;
        }
        let cut = floor_char_boundary(piece, room);
        self.text.push_str(&piece[..cut]);
        self.dropped += (piece.len() - cut) as u64;
    }

    fn is_empty(&self) -> bool {
        self.text.is_empty() && self.dropped == 0
    }

    /// The text, trimmed, with a marker when it was cut; `None` when there is none.
    fn finish(&mut self) -> Option<String> {
        let mut text = std::mem::take(&mut self.text);
        let dropped = std::mem::take(&mut self.dropped);
        trim_in_place(&mut text);
        if dropped > 0 {
            text.push_str(&format!("\n… [truncated {dropped} bytes]"));
        }
        (!text.is_empty()).then_some(text)
    }
}

struct Parser {
    limits: Limits,
    meta: ReportMeta,
    environment_keys: HashSet<String>,
    frames: Vec<Frame>,
    suites: Vec<SuiteData>,
    case: Option<CaseData>,
    /// The result of the testcase that just closed, until `advance` hands it out.
    ready: Option<TestResult>,
    /// A `<property name=…>` whose value is its text.
    property_name: Option<String>,
    property_value: TextBuf,
    elements: u64,
    root_seen: bool,
    root_closed: bool,
    /// The encoding an XML declaration named, if not UTF-8: said when the bytes are not UTF-8.
    declared_encoding: Option<String>,
}

impl Parser {
    fn new(limits: Limits) -> Self {
        Parser {
            limits,
            meta: ReportMeta::default(),
            environment_keys: HashSet::new(),
            frames: Vec::new(),
            suites: Vec::new(),
            case: None,
            ready: None,
            property_name: None,
            property_value: TextBuf::default(),
            elements: 0,
            root_seen: false,
            root_closed: false,
            declared_encoding: None,
        }
    }

    fn on_event(&mut self, event: Event<'_>, at: u64) -> Result<Step, Fault> {
        match event {
            Event::Start(e) => {
                self.open(&e, at)?;
                Ok(Step::Continue)
            }
            Event::Empty(e) => {
                self.open(&e, at)?;
                Ok(self.close())
            }
            Event::End(_) => Ok(self.close()),
            Event::Text(t) => {
                if self.frames.is_empty() {
                    // Located in the raw text: normalising line ends would shift the offset.
                    let raw: &str = &t;
                    if let Some(i) = raw.find(|c: char| !matches!(c, ' ' | '\t' | '\r' | '\n')) {
                        let message = "text outside the root element: not XML?";
                        return Err(syntax(at + i as u64, message));
                    }
                } else {
                    self.text(&t.xml10_content());
                }
                Ok(Step::Continue)
            }
            Event::CData(c) => {
                self.outside_root_check(at, "a CDATA section")?;
                self.text(&c.xml10_content());
                Ok(Step::Continue)
            }
            Event::GeneralRef(r) => {
                self.outside_root_check(at, "an entity reference")?;
                self.reference(&r, at)?;
                Ok(Step::Continue)
            }
            Event::DocType(_) => Err(syntax(
                at,
                "a DOCTYPE declaration: refused, DTDs and entity definitions are never processed",
            )),
            Event::Decl(d) => {
                self.declaration(&d);
                Ok(Step::Continue)
            }
            Event::PI(_) | Event::Comment(_) => Ok(Step::Continue),
            Event::Eof => self.eof(at),
        }
    }

    fn declaration(&mut self, decl: &quick_xml::events::BytesDecl<'_>) {
        if let Some(Ok(encoding)) = decl.encoding() {
            let lower = encoding.to_ascii_lowercase();
            if !matches!(lower.as_str(), "utf-8" | "utf8" | "us-ascii" | "ascii") {
                self.declared_encoding = Some(cap(encoding.into_owned(), QUOTE_BYTES));
            }
        }
    }

    fn utf8_message(&self) -> String {
        match &self.declared_encoding {
            Some(enc) => format!(
                "the bytes are not valid UTF-8 (the document declares encoding {enc}; only UTF-8 \
                 is accepted)"
            ),
            None => "the bytes are not valid UTF-8".to_string(),
        }
    }

    fn eof(&mut self, at: u64) -> Result<Step, Fault> {
        if let Some(open) = self.frames.len().checked_sub(1) {
            let inside = match self.frames[open] {
                Frame::Suites => "<testsuites>",
                Frame::Suite => "<testsuite>",
                Frame::Case => "<testcase>",
                _ => "an element",
            };
            return Err(syntax(
                at,
                format!(
                    "the document ends inside {inside} ({} elements still open): truncated?",
                    self.frames.len()
                ),
            ));
        }
        if !self.root_seen {
            return Err(syntax(
                at,
                "no <testsuites> or <testsuite> element: not a JUnit XML report",
            ));
        }
        Ok(Step::End)
    }

    fn outside_root_check(&self, at: u64, what: &str) -> Result<(), Fault> {
        if self.frames.is_empty() {
            return Err(syntax(at, format!("{what} outside the root element")));
        }
        Ok(())
    }

    // --- elements -----------------------------------------------------------------------------

    fn open(&mut self, e: &BytesStart<'_>, at: u64) -> Result<(), Fault> {
        self.elements += 1;
        if self.elements > self.limits.max_elements {
            return Err(Fault::Limit(format!(
                "the report has more than {} XML elements",
                self.limits.max_elements
            )));
        }
        if self.frames.len() >= self.limits.max_depth {
            return Err(Fault::Limit(format!(
                "XML elements nested deeper than {} levels",
                self.limits.max_depth
            )));
        }
        let qname = e.name();
        let name = qname.local_name();
        let frame = self.frame_for(e, name.as_ref(), at)?;
        self.frames.push(frame);
        Ok(())
    }

    /// What an element opening here is, reading its attributes on the way.
    fn frame_for(&mut self, e: &BytesStart<'_>, name: &str, at: u64) -> Result<Frame, Fault> {
        let parent = self.frames.last().copied();
        let frame = match (parent, name) {
            (None, _) if self.root_closed => {
                return Err(syntax(
                    at,
                    "a second root element after the first one closed",
                ));
            }
            (None, "testsuites") => {
                self.root_seen = true;
                self.open_suites(e, at)?;
                Frame::Suites
            }
            (None | Some(Frame::Suites | Frame::Suite), "testsuite") => {
                self.root_seen = true;
                self.open_suite(e, at)?;
                Frame::Suite
            }
            (None, other) => {
                return Err(syntax(
                    at,
                    format!(
                        "the root element is <{}>, not <testsuites> or <testsuite>",
                        quote(other)
                    ),
                ));
            }
            (Some(Frame::Suites | Frame::Suite), "testcase") => {
                self.open_case(e, at)?;
                Frame::Case
            }
            (Some(Frame::Suites | Frame::Suite), "properties") => {
                self.check_attributes(e, at)?;
                Frame::Properties(Owner::Suite)
            }
            (Some(Frame::Case), "properties") => {
                self.check_attributes(e, at)?;
                Frame::Properties(Owner::Case)
            }
            (Some(Frame::Properties(owner)), "property") => self.open_property(e, owner, at)?,
            (Some(Frame::Case), "system-out") => self.open_output(e, Slot::Stdout, at)?,
            (Some(Frame::Case), "system-err") => self.open_output(e, Slot::Stderr, at)?,
            (Some(Frame::Case), other) => match TryKind::from_element(other) {
                Some(kind) => {
                    self.open_try(e, kind, at)?;
                    Frame::Try
                }
                None => {
                    self.check_attributes(e, at)?;
                    Frame::Ignored
                }
            },
            (Some(Frame::Try), "stackTrace") => {
                self.check_attributes(e, at)?;
                Frame::Text(Slot::StackTrace)
            }
            _ => {
                self.check_attributes(e, at)?;
                Frame::Ignored
            }
        };
        Ok(frame)
    }

    fn close(&mut self) -> Step {
        // quick-xml refuses an end tag that matches no start tag, so the stack is never empty
        // here; an empty one would only mean nothing to close.
        let Some(frame) = self.frames.pop() else {
            return Step::Continue;
        };
        if self.frames.is_empty() {
            self.root_closed = true;
        }
        match frame {
            Frame::Suites | Frame::Suite => {
                self.suites.pop();
            }
            Frame::Case => {
                self.ready = self.finish_case();
                if self.ready.is_some() {
                    return Step::Ready;
                }
            }
            Frame::Try => self.finish_try(),
            Frame::Text(Slot::PropertyValue(owner)) => {
                let value = self.property_value.finish().unwrap_or_default();
                if let Some(name) = self.property_name.take() {
                    self.apply_property(owner, name, value);
                }
            }
            Frame::Text(_) | Frame::Properties(_) | Frame::Ignored => {}
        }
        Step::Continue
    }

    fn open_suites(&mut self, e: &BytesStart<'_>, at: u64) -> Result<(), Fault> {
        let mut tool = None;
        self.each_attribute(e, at, |key, value| {
            if key == "name" {
                tool = match value.trim() {
                    "nextest-run" => Some("cargo-nextest"),
                    "jest tests" => Some("jest"),
                    "pytest tests" => Some("pytest"),
                    _ => None,
                };
            }
        })?;
        self.set_tool(tool);
        self.suites.push(SuiteData::default());
        Ok(())
    }

    fn open_suite(&mut self, e: &BytesStart<'_>, at: u64) -> Result<(), Fault> {
        let mut suite = SuiteData::default();
        let mut tool = None;
        let mut hostname = None;
        self.each_attribute(e, at, |key, value| match key {
            "name" => {
                let name = value.trim();
                if name == "pytest" {
                    tool = Some("pytest");
                }
                if !name.is_empty() && !GENERIC_SUITE_NAMES.contains(&name) {
                    suite.name_parts =
                        Some(split_path(name).into_iter().map(String::from).collect());
                }
            }
            "file" => suite.file = non_empty(value),
            "hostname" => hostname = non_empty(value),
            "noNamespaceSchemaLocation" if value.contains("surefire") => {
                tool = Some("maven-surefire");
            }
            _ => {}
        })?;
        self.set_tool(tool);
        if let Some(host) = hostname {
            self.add_environment("hostname".to_string(), host);
        }
        self.suites.push(suite);
        Ok(())
    }

    fn set_tool(&mut self, tool: Option<&str>) {
        if self.meta.tool.is_none() {
            self.meta.tool = tool.map(String::from);
        }
    }

    fn open_case(&mut self, e: &BytesStart<'_>, at: u64) -> Result<(), Fault> {
        let mut case = CaseData::default();
        let mut line = None;
        self.each_attribute(e, at, |key, value| match key {
            "name" => case.name = value.into_owned(),
            "classname" => case.classname = non_empty(value),
            "file" => case.file = non_empty(value),
            "line" => line = value.trim().parse::<u32>().ok(),
            "time" => case.duration_ms = parse_seconds(&value),
            "status" => {
                case.not_run = matches!(
                    value.trim().to_ascii_lowercase().as_str(),
                    "notrun" | "disabled" | "skipped" | "ignored"
                );
            }
            _ => {}
        })?;
        let zero_based = self.meta.tool.as_deref() == Some("pytest")
            || case.file.as_deref().is_some_and(|f| f.ends_with(".py"));
        case.line = match line {
            Some(n) if zero_based => n.checked_add(1),
            Some(0) => None,
            other => other,
        };
        self.case = Some(case);
        Ok(())
    }

    fn open_try(&mut self, e: &BytesStart<'_>, kind: TryKind, at: u64) -> Result<(), Fault> {
        let mut open = OpenTry {
            kind,
            message: None,
            kind_name: None,
            duration_ms: None,
            body: TextBuf::default(),
            stack: TextBuf::default(),
        };
        self.each_attribute(e, at, |key, value| match key {
            "message" => open.message = non_empty(value),
            "type" => open.kind_name = non_empty(value),
            "time" => open.duration_ms = parse_seconds(&value),
            _ => {}
        })?;
        if let Some(case) = self.case.as_mut() {
            case.current = Some(open);
        }
        Ok(())
    }

    fn finish_try(&mut self) {
        let limit = self.limits.max_text_bytes;
        let Some(case) = self.case.as_mut() else {
            return;
        };
        let Some(mut open) = case.current.take() else {
            return;
        };
        let trace = open.stack.finish().or_else(|| open.body.finish());
        let message = open
            .message
            .map(|mut m| {
                trim_in_place(&mut m);
                m
            })
            .filter(|m| !m.is_empty())
            .or_else(|| trace.as_deref().and_then(first_line))
            .or_else(|| open.kind_name.clone());
        let duration_ms = match open.kind {
            TryKind::Failure | TryKind::Error => open.duration_ms.or(case.duration_ms),
            _ => open.duration_ms,
        };
        let done = Try {
            kind: open.kind,
            message: message.map(|m| cap(m, limit)),
            trace,
            duration_ms,
            type_name: open.kind_name,
        };
        if done.kind == TryKind::Skipped {
            case.skip = Some(done);
        } else {
            case.tries.push(done);
        }
    }

    fn open_output(&mut self, e: &BytesStart<'_>, slot: Slot, at: u64) -> Result<Frame, Fault> {
        self.check_attributes(e, at)?;
        if let Some(case) = self.case.as_mut() {
            let buf = if slot == Slot::Stdout {
                &mut case.stdout
            } else {
                &mut case.stderr
            };
            // Several <system-out> elements in one case (pytest writes that) read as one text.
            if !buf.is_empty() {
                buf.push("\n", self.limits.max_text_bytes);
            }
        }
        Ok(Frame::Text(slot))
    }

    fn open_property(&mut self, e: &BytesStart<'_>, owner: Owner, at: u64) -> Result<Frame, Fault> {
        let mut name = None;
        let mut value = None;
        self.each_attribute(e, at, |key, v| match key {
            "name" => name = non_empty(v),
            "value" => value = Some(v.into_owned()),
            _ => {}
        })?;
        let Some(name) = name else {
            return Ok(Frame::Ignored);
        };
        match value {
            Some(value) => {
                self.apply_property(owner, name, value);
                Ok(Frame::Ignored)
            }
            None => {
                self.property_name = Some(name);
                self.property_value = TextBuf::default();
                Ok(Frame::Text(Slot::PropertyValue(owner)))
            }
        }
    }

    fn apply_property(&mut self, owner: Owner, name: String, value: String) {
        if owner == Owner::Case {
            if let Some(case) = self.case.as_mut() {
                case.labels.push((name, value));
            }
            return;
        }
        if self.ci_property(&name, &value) {
            return;
        }
        if is_jvm_property(&name) {
            if JVM_ENVIRONMENT.contains(&name.as_str()) {
                self.add_environment(name, value);
            }
            return;
        }
        let inherited: usize = self.suites.iter().map(|s| s.labels.len()).sum();
        if inherited < MAX_INHERITED_LABELS
            && let Some(suite) = self.suites.last_mut()
        {
            suite.labels.push((name.clone(), value.clone()));
        }
        self.add_environment(name, value);
    }

    /// Fills `branch`, `commit`, `build_url` or `build_name` from a well-known CI key.
    fn ci_property(&mut self, name: &str, value: &str) -> bool {
        let key: String = name
            .chars()
            .map(|c| match c {
                '.' | '-' => '_',
                c => c.to_ascii_lowercase(),
            })
            .collect();
        let field = if CI_BRANCH_KEYS.contains(&key.as_str()) {
            &mut self.meta.branch
        } else if CI_COMMIT_KEYS.contains(&key.as_str()) {
            &mut self.meta.commit
        } else if CI_BUILD_URL_KEYS.contains(&key.as_str()) {
            &mut self.meta.build_url
        } else if CI_BUILD_NAME_KEYS.contains(&key.as_str()) {
            &mut self.meta.build_name
        } else {
            return false;
        };
        let value = value.trim();
        if field.is_none() && !value.is_empty() {
            *field = Some(value.to_string());
        }
        true
    }

    fn add_environment(&mut self, name: String, value: String) {
        if self.meta.environment.len() >= MAX_ENVIRONMENT || self.environment_keys.contains(&name) {
            return;
        }
        self.environment_keys.insert(name.clone());
        self.meta.environment.push((name, value));
    }

    /// Reads the attributes of an element we otherwise ignore, so the limits and the entity
    /// rules hold for every attribute in the document.
    fn check_attributes(&self, e: &BytesStart<'_>, at: u64) -> Result<(), Fault> {
        self.each_attribute(e, at, |_, _| {})
    }

    /// Calls `f` with each attribute's local name and its value, unescaped and normalised.
    fn each_attribute<'e>(
        &self,
        e: &'e BytesStart<'_>,
        at: u64,
        mut f: impl FnMut(&str, Cow<'e, str>),
    ) -> Result<(), Fault> {
        // Duplicate names are not looked for: it would cost an allocation per element, and a
        // repeated attribute cannot do harm here (the last one wins).
        for attr in e.attributes().with_checks(false) {
            let attr = attr.map_err(|err| syntax(at, format!("a malformed attribute: {err}")))?;
            if attr.value.len() > self.limits.max_attribute_bytes {
                return Err(Fault::Limit(format!(
                    "an attribute value longer than {} bytes (attribute `{}`)",
                    self.limits.max_attribute_bytes,
                    quote(attr.key.as_ref())
                )));
            }
            let value = if attr.value.contains(['&', '\t', '\n', '\r']) {
                attr.normalized_value(XmlVersion::Implicit1_0)
                    .map_err(|err| syntax(at, xml_error_message(&err)))?
            } else {
                attr.value
            };
            f(attr.key.local_name().as_ref(), value);
        }
        Ok(())
    }

    // --- text -------------------------------------------------------------------------------

    /// Adds text to whatever the innermost element collects, if anything.
    fn text(&mut self, piece: &str) {
        let limit = self.limits.max_text_bytes;
        let Some(frame) = self.frames.last().copied() else {
            return;
        };
        let target = match frame {
            Frame::Text(Slot::PropertyValue(_)) => Some(&mut self.property_value),
            Frame::Try | Frame::Text(_) => self.case.as_mut().and_then(|case| match frame {
                Frame::Text(Slot::Stdout) => Some(&mut case.stdout),
                Frame::Text(Slot::Stderr) => Some(&mut case.stderr),
                Frame::Text(Slot::StackTrace) => case.current.as_mut().map(|t| &mut t.stack),
                _ => case.current.as_mut().map(|t| &mut t.body),
            }),
            _ => None,
        };
        if let Some(buf) = target {
            buf.push(piece, limit);
        }
    }

    fn reference(&mut self, r: &BytesRef<'_>, at: u64) -> Result<(), Fault> {
        let mut utf8 = [0u8; 4];
        let resolved: &str = if r.is_char_ref() {
            match r.resolve_char_ref() {
                Ok(Some(c)) => c.encode_utf8(&mut utf8),
                Ok(None) | Err(_) => {
                    return Err(syntax(
                        at,
                        format!("an invalid character reference &{};", quote(r)),
                    ));
                }
            }
        } else {
            match predefined_entity(r) {
                Some(s) => s,
                None => {
                    return Err(syntax(
                        at,
                        format!(
                            "an unknown entity &{}; (only &lt; &gt; &amp; &apos; &quot; and \
                             character references are allowed)",
                            quote(r)
                        ),
                    ));
                }
            }
        };
        self.text(resolved);
        Ok(())
    }

    // --- results ----------------------------------------------------------------------------

    fn finish_case(&mut self) -> Option<TestResult> {
        let mut case = self.case.take()?;
        let identity = self.identity(&case);
        let skip = case.skip.take();
        let mut tries = std::mem::take(&mut case.tries);
        let last_failure = tries.iter().rposition(|t| !t.kind.is_flaky());
        let mut labels = self.inherited_labels();
        let mut result = match last_failure {
            Some(i) => {
                let last = tries.remove(i);
                let mut result = TestResult::new(identity, last.kind.outcome());
                result.duration_ms = last.duration_ms.or(case.duration_ms);
                result.message = last.message;
                result.trace = last.trace;
                result
            }
            None => match skip {
                Some(skip) => {
                    let mut result = TestResult::new(identity, Outcome::Skipped);
                    result.duration_ms = case.duration_ms;
                    result.message = skip.message;
                    result.trace = skip.trace;
                    if let Some(kind) = skip.type_name {
                        labels.push(("skipped.type".to_string(), kind));
                    }
                    result
                }
                None => {
                    let outcome = if case.not_run {
                        Outcome::Skipped
                    } else {
                        Outcome::Passed
                    };
                    let mut result = TestResult::new(identity, outcome);
                    result.duration_ms = case.duration_ms;
                    result
                }
            },
        };
        result.attempts = tries.into_iter().map(Try::into_attempt).collect();
        result.stdout = case.stdout.finish();
        result.stderr = case.stderr.finish();
        result.file = case
            .file
            .or_else(|| self.suites.iter().rev().find_map(|s| s.file.clone()));
        result.line = case.line;
        labels.append(&mut case.labels);
        result.labels = labels;
        Some(result)
    }

    fn inherited_labels(&self) -> Vec<(String, String)> {
        let count: usize = self.suites.iter().map(|s| s.labels.len()).sum();
        let mut labels = Vec::with_capacity(count);
        for suite in &self.suites {
            labels.extend(suite.labels.iter().cloned());
        }
        labels
    }

    /// The identity rules of the module documentation.
    fn identity(&self, case: &CaseData) -> TestIdentity {
        let name = case.name.trim();
        let classname = case
            .classname
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty() && *c != name);
        let class_parts = classname.map(split_path).unwrap_or_default();
        let mut suite: Vec<String> = Vec::with_capacity(class_parts.len() + 2);
        for parts in self.suites.iter().filter_map(|s| s.name_parts.as_ref()) {
            let repeated = parts.len() <= class_parts.len()
                && parts.iter().zip(&class_parts).all(|(a, b)| a == b);
            if !repeated {
                suite.extend(parts.iter().cloned());
            }
        }
        suite.extend(class_parts.iter().map(|p| (*p).to_string()));
        let (base, id) = split_parameter(name);
        let base = match split_rust_path(base) {
            Some((modules, last)) => {
                suite.extend(modules.into_iter().map(String::from));
                last
            }
            None => base,
        };
        let parameters = id.map(|id| ("id".to_string(), id.to_string()));
        TestIdentity::new(suite, base, parameters)
    }
}

// ---------------------------------------------------------------------------------------------
// Rules as data.

/// Suite names producers write when there is nothing to say: never part of a suite path.
const GENERIC_SUITE_NAMES: &[&str] = &["pytest", "undefined", "Root Suite"];

const CI_BRANCH_KEYS: &[&str] = &[
    "branch",
    "git_branch",
    "ci_branch",
    "branch_name",
    "vcs_branch",
    "ci_commit_branch",
    "ci_commit_ref_name",
    "github_ref_name",
    "build_sourcebranchname",
];
const CI_COMMIT_KEYS: &[&str] = &[
    "commit",
    "git_commit",
    "ci_commit",
    "commit_sha",
    "git_sha",
    "sha",
    "revision",
    "git_revision",
    "vcs_revision",
    "ci_commit_sha",
    "github_sha",
    "build_sourceversion",
];
const CI_BUILD_URL_KEYS: &[&str] = &[
    "build_url",
    "ci_build_url",
    "ci_job_url",
    "ci_pipeline_url",
    "ci_url",
    "run_url",
];
const CI_BUILD_NAME_KEYS: &[&str] = &[
    "build_name",
    "build_number",
    "build_id",
    "build_tag",
    "ci_build_name",
    "ci_build_number",
    "ci_build_id",
    "ci_pipeline_id",
    "ci_job_id",
    "github_run_id",
];

/// Prefixes of the JVM system properties Surefire writes into every suite.
const JVM_PREFIXES: &[&str] = &[
    "java.",
    "javax.",
    "jdk.",
    "sun.",
    "os.",
    "user.",
    "file.",
    "path.",
    "line.",
    "awt.",
    "native.",
    "stdout.",
    "stderr.",
    "socksNonProxyHosts",
    "ftp.",
    "http.",
    "https.",
    "gopherProxySet",
    "maven.",
    "surefire.",
    "localRepository",
    "basedir",
    "idea.",
    "jna.",
    "library.",
];

/// The JVM properties worth keeping as environment facts.
const JVM_ENVIRONMENT: &[&str] = &[
    "java.version",
    "java.vendor",
    "java.vm.name",
    "os.name",
    "os.arch",
    "os.version",
];

fn is_jvm_property(name: &str) -> bool {
    JVM_PREFIXES.iter().any(|p| name.starts_with(p))
}

fn predefined_entity(name: &str) -> Option<&'static str> {
    Some(match name {
        "lt" => "<",
        "gt" => ">",
        "amp" => "&",
        "apos" => "'",
        "quot" => "\"",
        _ => return None,
    })
}

// ---------------------------------------------------------------------------------------------
// Small text helpers.

/// `tests::parses_time` → (`["tests"]`, `parses_time`) when the name is a Rust path.
fn split_rust_path(name: &str) -> Option<(Vec<&str>, &str)> {
    if !name.contains("::") {
        return None;
    }
    let mut parts: Vec<&str> = name.split("::").collect();
    let valid = parts
        .iter()
        .all(|p| !p.is_empty() && p.chars().all(|c| c.is_alphanumeric() || c == '_'));
    if !valid {
        return None;
    }
    let last = parts.pop()?;
    Some((parts, last))
}

use crate::identity::rules::{split_parameter, split_path};

/// Seconds as the producers write them (`0.123`, `1,234.5`, `12`) to whole milliseconds.
fn parse_seconds(raw: &str) -> Option<u64> {
    let raw = raw.trim();
    let seconds: f64 = if raw.contains(',') {
        let decimal_comma = !raw.contains('.')
            && raw.matches(',').count() == 1
            && raw.rsplit(',').next().is_some_and(|tail| tail.len() != 3);
        if decimal_comma {
            raw.replace(',', ".").parse().ok()?
        } else {
            raw.replace(',', "").parse().ok()?
        }
    } else {
        raw.parse().ok()?
    };
    if !seconds.is_finite() || seconds < 0.0 {
        return None;
    }
    // Saturates at u64::MAX for absurd values; no test runs for 584 million years.
    Some((seconds * 1000.0).round() as u64)
}

fn first_line(text: &str) -> Option<String> {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    Some(cap(line.to_string(), MESSAGE_LINE_BYTES))
}

fn non_empty(value: Cow<'_, str>) -> Option<String> {
    (!value.trim().is_empty()).then(|| value.into_owned())
}

fn trim_in_place(text: &mut String) {
    let end = text.trim_end().len();
    text.truncate(end);
    let start = text.len() - text.trim_start().len();
    if start > 0 {
        text.drain(..start);
    }
}

/// The largest index `<= at` that is a char boundary of `s`.
fn floor_char_boundary(s: &str, at: usize) -> usize {
    if at >= s.len() {
        return s.len();
    }
    let mut i = at;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// `s` cut to at most `max` bytes (on a char boundary), with `…` when cut.
fn cap(mut s: String, max: usize) -> String {
    if s.len() > max {
        let cut = floor_char_boundary(&s, max.saturating_sub(3));
        s.truncate(cut);
        s.push('…');
    }
    s
}

/// A piece of the input fit to quote in an error message: short, control characters escaped.
fn quote(s: &str) -> String {
    let short = &s[..floor_char_boundary(s, QUOTE_BYTES)];
    let mut out: String = short.escape_debug().collect();
    if short.len() < s.len() {
        out.push('…');
    }
    out
}

fn reference_error_message(err: &quick_xml::escape::EscapeError) -> String {
    use quick_xml::escape::EscapeError;
    match err {
        EscapeError::UnrecognizedEntity(_, name) => format!(
            "an unknown entity &{}; in an attribute (only &lt; &gt; &amp; &apos; &quot; and \
             character references are allowed)",
            quote(name)
        ),
        EscapeError::UnterminatedEntity(_) => "an `&` without a closing `;` in an attribute".into(),
        EscapeError::InvalidCharRef(e) => {
            format!("an invalid character reference in an attribute: {e}")
        }
        EscapeError::TooManyNestedEntities => "entities nested too deeply in an attribute".into(),
    }
}

/// quick-xml's message, rewritten where it would quote the input at length.
fn xml_error_message(err: &quick_xml::Error) -> String {
    match err {
        quick_xml::Error::IllFormed(e) => match e {
            IllFormedError::MismatchedEndTag { expected, found } => format!(
                "the end tag </{}> does not match the open element <{}>",
                quote(found),
                quote(expected)
            ),
            IllFormedError::UnmatchedEndTag(name) => {
                format!("the end tag </{}> matches no open element", quote(name))
            }
            IllFormedError::MissingEndTag(name) => {
                format!("the element <{}> is never closed", quote(name))
            }
            IllFormedError::MissingDoctypeName => {
                "a DOCTYPE declaration: refused, DTDs are never processed".into()
            }
            IllFormedError::UnclosedReference => {
                "an `&` that does not start an entity reference (write &amp;)".into()
            }
            other => format!("ill-formed XML: {other}"),
        },
        quick_xml::Error::Syntax(e) => format!("malformed XML: {e}"),
        quick_xml::Error::Escape(e) => reference_error_message(e),
        other => format!("malformed XML: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_with_separators() {
        assert_eq!(parse_seconds("1,234.5"), Some(1_234_500));
        assert_eq!(parse_seconds("0.001"), Some(1));
        assert_eq!(parse_seconds("12"), Some(12_000));
        assert_eq!(parse_seconds("1,234"), Some(1_234_000));
        assert_eq!(parse_seconds("0,5"), Some(500));
        assert_eq!(parse_seconds("-1"), None);
        assert_eq!(parse_seconds("NaN"), None);
        assert_eq!(parse_seconds(""), None);
    }

    #[test]
    fn paths_split_only_when_they_are_identifiers() {
        assert_eq!(
            split_path("tests.test_api.TestUsers"),
            ["tests", "test_api", "TestUsers"]
        );
        assert_eq!(
            split_path("com.acme.Outer$Inner"),
            ["com", "acme", "Outer", "Inner"]
        );
        assert_eq!(split_path("shop::checkout"), ["shop", "checkout"]);
        assert_eq!(split_path("FooSpec$"), ["FooSpec"]);
        assert_eq!(
            split_path("UserService adds a user"),
            ["UserService adds a user"]
        );
        assert_eq!(split_path("src/user.test.js"), ["src/user.test.js"]);
        assert_eq!(split_path("..."), ["..."]);
    }

    #[test]
    fn parameters_come_from_a_trailing_bracket() {
        assert_eq!(split_parameter("test_x[1-2]"), ("test_x", Some("1-2")));
        assert_eq!(split_parameter("test_x[a]b]"), ("test_x", Some("a]b")));
        assert_eq!(
            split_parameter("add(int, int)[1]"),
            ("add(int, int)", Some("1"))
        );
        assert_eq!(
            split_parameter("renders list [empty]"),
            ("renders list [empty]", None)
        );
        assert_eq!(split_parameter("[1] first"), ("[1] first", None));
        assert_eq!(split_parameter("x[]"), ("x[]", None));
        assert_eq!(
            split_rust_path("tests::sums"),
            Some((vec!["tests"], "sums"))
        );
        assert_eq!(split_rust_path("a :: b"), None);
    }

    #[test]
    fn sniffing() {
        assert!(looks_like_junit(
            b"\xEF\xBB\xBF<?xml version=\"1.0\"?>\n<!-- x --><testsuites>"
        ));
        assert!(looks_like_junit(b"  <testsuite name=\"a\">"));
        assert!(looks_like_junit(
            b"<!DOCTYPE testsuite [<!ENTITY a \"b\">]><testsuite>"
        ));
        assert!(!looks_like_junit(b"<testsuitex>"));
        assert!(!looks_like_junit(b"<html><testsuite>"));
        assert!(!looks_like_junit(b"{\"results\": {}}"));
        assert!(!looks_like_junit(b"<!-- never closed"));
    }

    #[test]
    fn text_is_cut_on_a_char_boundary_with_a_marker() {
        let mut buf = TextBuf::default();
        buf.push("ééé", 3);
        buf.push("abc", 3);
        assert_eq!(buf.finish().as_deref(), Some("é\n… [truncated 7 bytes]"));
    }
}
