//! Java: JUnit 4, JUnit 5 (and TestNG) test methods — a method under `@Test` or one of
//! JUnit 5's other test annotations, declared directly in a class body.

use crate::lexer::{self, Lang, Tokens};
use crate::text::{self, Draft, Found, Suite};

const TEST_ANNOTATIONS: &[&str] = &[
    "Test",
    "ParameterizedTest",
    "RepeatedTest",
    "TestFactory",
    "TestTemplate",
];

struct Annotation {
    /// The last segment of its name.
    name: String,
    /// The whole name as written (`org.junit.Test`).
    path: String,
    /// Token index of the `@`.
    at: usize,
    /// Token range of its arguments, inside the parentheses.
    args: Option<(usize, usize)>,
}

struct Frame {
    /// Token index of the closing brace.
    end: usize,
    class: Option<ClassMarks>,
}

#[derive(Clone, Default)]
struct ClassMarks {
    skipped: bool,
    tags: Vec<String>,
    case_id: Option<String>,
}

pub(crate) fn scan(out: &mut Found<'_>) {
    let t = lexer::lex(out.text(), Lang::Java);
    let imports = Imports::read(&t);
    let mut frames: Vec<Frame> = Vec::new();
    let mut suite = Suite::default();
    let mut pending: Vec<Annotation> = Vec::new();
    let mut pending_class: Option<(String, Vec<Annotation>)> = None;
    let mut i = 0;
    while i < t.len() {
        while frames.last().is_some_and(|f| i > f.end) {
            if frames.pop().is_some_and(|f| f.class.is_some()) {
                suite.pop();
            }
        }
        if t.punct(i, b'@') {
            if t.is_ident(i + 1, "interface")
                && let Some(name) = t.ident(i + 2)
            {
                pending_class = Some((name.to_owned(), std::mem::take(&mut pending)));
                i += 3;
                continue;
            }
            if let Some((annotation, next)) = annotation_at(&t, i) {
                pending.push(annotation);
                i = next;
                continue;
            }
        }
        let in_class = frames.last().is_some_and(|f| f.class.is_some());
        match t.ident(i) {
            Some("class" | "interface" | "enum" | "record")
                if !(i > 0 && t.punct(i - 1, b'.')) && pending_class.is_none() =>
            {
                if let Some(name) = t.ident(i + 1) {
                    pending_class = Some((name.to_owned(), std::mem::take(&mut pending)));
                    i += 2;
                    continue;
                }
            }
            Some(name) if in_class && pending_class.is_none() && t.punct(i + 1, b'(') => {
                let is_test = pending
                    .iter()
                    .any(|a| TEST_ANNOTATIONS.contains(&a.name.as_str()));
                if is_test && !(i > 0 && (t.punct(i - 1, b'.') || t.is_ident(i - 1, "new"))) {
                    let end = body_end(&t, t.close(i + 1).saturating_add(1));
                    let parent = frames
                        .last()
                        .and_then(|f| f.class.clone())
                        .unwrap_or_default();
                    let draft = test(&t, &imports, &pending, parent, name, i, end, &suite);
                    if !out.push(draft) {
                        return;
                    }
                    pending.clear();
                    i = end.saturating_add(1);
                    continue;
                }
                pending.clear();
            }
            _ => {}
        }
        if t.punct(i, b'{') {
            let class = pending_class.take().map(|(name, annotations)| {
                let parent = frames
                    .last()
                    .and_then(|f| f.class.clone())
                    .unwrap_or_default();
                suite.push(&name);
                marks(&t, &annotations, parent)
            });
            frames.push(Frame {
                end: t.close(i),
                class,
            });
            pending.clear();
        } else if t.punct(i, b';') || t.punct(i, b'}') {
            pending.clear();
            pending_class = None;
        }
        i += 1;
    }
}

/// `@Name`, `@a.b.Name`, with `(…)` arguments: the annotation and the index after it.
fn annotation_at(t: &Tokens<'_>, at: usize) -> Option<(Annotation, usize)> {
    let mut path = String::new();
    let mut i = at + 1;
    let mut name = t.ident(i)?;
    loop {
        path.push_str(name);
        i += 1;
        if t.punct(i, b'.')
            && let Some(next) = t.ident(i + 1)
        {
            path.push('.');
            name = next;
            i += 1;
            continue;
        }
        break;
    }
    let args = t.punct(i, b'(').then(|| (i + 1, t.close(i)));
    let next = if args.is_some() { t.skip(i) } else { i };
    Some((
        Annotation {
            name: name.to_owned(),
            path,
            at,
            args,
        },
        next,
    ))
}

/// The index of the body's closing brace (or the `;` of a body-less method), scanning from just
/// after the parameter list over `throws …`.
fn body_end(t: &Tokens<'_>, from: usize) -> usize {
    let mut k = from;
    while k < t.len() {
        if t.punct(k, b'{') {
            return t.close(k);
        }
        if t.punct(k, b';') || t.punct(k, b'}') {
            return k;
        }
        k = t.skip(k);
    }
    t.len()
}

/// Skip, tags and case id from class or method annotations, on top of the parent's.
fn marks(t: &Tokens<'_>, annotations: &[Annotation], mut marks: ClassMarks) -> ClassMarks {
    for a in annotations {
        let (from, to) = a.args.unwrap_or((0, 0));
        match a.name.as_str() {
            "Disabled" | "Ignore" => marks.skipped = true,
            "Tag" | "Tags" => {
                for value in t.strings(from, to) {
                    text::add_tag_or_id(&mut marks.tags, &mut marks.case_id, &value);
                }
            }
            // TestNG: `@Test(enabled = false, groups = {"a", "b"})`.
            "Test" if a.args.is_some() => {
                let mut k = from;
                while k < to {
                    if t.is_ident(k, "enabled")
                        && t.punct(k + 1, b'=')
                        && t.is_ident(k + 2, "false")
                    {
                        marks.skipped = true;
                    }
                    if t.is_ident(k, "groups") && t.punct(k + 1, b'=') {
                        let value = k + 2;
                        let end = if t.punct(value, b'{') {
                            t.close(value)
                        } else {
                            value + 1
                        };
                        for group in t.strings(value, end) {
                            text::add_tag(&mut marks.tags, &group);
                        }
                    }
                    k = t.skip(k);
                }
            }
            _ => {}
        }
    }
    marks
}

#[expect(
    clippy::too_many_arguments,
    reason = "one call site; a struct would only rename them"
)]
fn test(
    t: &Tokens<'_>,
    imports: &Imports,
    annotations: &[Annotation],
    parent: ClassMarks,
    name: &str,
    name_at: usize,
    end: usize,
    suite: &Suite,
) -> Draft {
    let framework = annotations
        .iter()
        .find(|a| TEST_ANNOTATIONS.contains(&a.name.as_str()))
        .map_or("junit5", |a| imports.framework(a));
    let marks = marks(t, annotations, parent);
    let mut draft = Draft::new(name.to_owned(), t.start(name_at), framework);
    draft.suite = suite.names();
    draft.display = annotations
        .iter()
        .filter(|a| a.name == "DisplayName")
        .find_map(|a| {
            a.args
                .and_then(|(from, to)| t.strings(from, to).into_iter().next())
        });
    draft.start = annotations
        .first()
        .map_or(t.start(name_at), |a| t.start(a.at));
    draft.end = t.end(end);
    draft.tags = marks.tags;
    draft.case_id = marks.case_id;
    draft.skipped = marks.skipped;
    draft
}

/// What the file imports from the test frameworks.
struct Imports {
    jupiter_test: bool,
    junit4_test: bool,
    jupiter: bool,
    junit4: bool,
    testng: bool,
}

impl Imports {
    fn read(t: &Tokens<'_>) -> Self {
        let mut imports = Imports {
            jupiter_test: false,
            junit4_test: false,
            jupiter: false,
            junit4: false,
            testng: false,
        };
        for i in 0..t.len() {
            if !t.is_ident(i, "import") {
                continue;
            }
            let mut path = String::new();
            let mut k = i + 1;
            if t.is_ident(k, "static") {
                k += 1;
            }
            while k < t.len() && !t.punct(k, b';') && path.len() < 256 {
                path.push_str(t.raw(k));
                k += 1;
            }
            imports.jupiter_test |=
                path == "org.junit.jupiter.api.Test" || path == "org.junit.jupiter.api.*";
            imports.junit4_test |= path == "org.junit.Test" || path == "org.junit.*";
            imports.jupiter |= path.starts_with("org.junit.jupiter.");
            imports.junit4 |=
                path.starts_with("org.junit.") && !path.starts_with("org.junit.jupiter.");
            imports.testng |= path.starts_with("org.testng.");
        }
        imports
    }

    fn framework(&self, annotation: &Annotation) -> &'static str {
        if annotation.path.starts_with("org.junit.jupiter.") {
            return "junit5";
        }
        if annotation.path == "org.junit.Test" {
            return "junit4";
        }
        if annotation.path.starts_with("org.testng.") {
            return "testng";
        }
        if annotation.name != "Test" {
            return "junit5";
        }
        if self.jupiter_test {
            "junit5"
        } else if self.junit4_test {
            "junit4"
        } else if self.testng {
            "testng"
        } else if self.jupiter {
            "junit5"
        } else if self.junit4 {
            "junit4"
        } else {
            "junit5"
        }
    }
}
