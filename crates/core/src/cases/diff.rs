//! A readable diff between two versions of a case: each version written out as labelled lines,
//! then compared line by line (longest common subsequence).

use super::model::CaseContent;
use super::{FieldView, SharedStepsView};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiffLine {
    /// `same`, `added` or `removed`.
    pub change: &'static str,
    pub text: String,
}

/// A version as the lines a diff compares.
pub(crate) fn lines(
    c: &CaseContent,
    fields: &[FieldView],
    shared: &[SharedStepsView],
) -> Vec<String> {
    let mut out = vec![
        format!("Title: {}", c.title),
        format!("Priority: {}", c.priority),
        format!("Type: {}", c.kind),
        format!("Status: {}", c.status),
        format!("Owner: {}", c.owner.as_deref().unwrap_or("—")),
        format!("Tags: {}", c.tags.join(", ")),
    ];
    for (id, value) in &c.fields {
        let name = fields
            .iter()
            .find(|f| f.id.to_string() == *id)
            .map_or("(deleted field)", |f| f.name.as_str());
        out.push(format!("{name}: {}", FieldView::display(value)));
    }
    let block = |out: &mut Vec<String>, label: &str, text: &str| {
        if !text.is_empty() {
            out.push(format!("{label}:"));
            out.extend(text.lines().map(|l| format!("    {l}")));
        }
    };
    block(&mut out, "Preconditions", &c.preconditions);
    block(&mut out, "Description", &c.description);
    for (i, s) in c.steps.iter().enumerate() {
        if let Some(id) = s.shared {
            let title = shared
                .iter()
                .find(|x| x.id == id)
                .map_or("(deleted)", |x| x.title.as_str());
            out.push(format!("Step {}: shared steps \"{title}\"", i + 1));
            continue;
        }
        block(&mut out, &format!("Step {}", i + 1), &s.action);
        block(&mut out, &format!("Step {} expected", i + 1), &s.expected);
    }
    out
}

/// Line diff; inputs past 2,000 lines each are compared as wholly replaced (bounded work).
pub(crate) fn diff(old: &[String], new: &[String]) -> Vec<DiffLine> {
    let line = |change, text: &String| DiffLine {
        change,
        text: text.clone(),
    };
    if old.len() > 2_000 || new.len() > 2_000 {
        return old
            .iter()
            .map(|t| line("removed", t))
            .chain(new.iter().map(|t| line("added", t)))
            .collect();
    }
    let (n, m) = (old.len(), new.len());
    // lcs[i][j]: length of the common subsequence of old[i..] and new[j..].
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if old[i] == new[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(n.max(m));
    while i < n || j < m {
        if i < n && j < m && old[i] == new[j] {
            out.push(line("same", &old[i]));
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out.push(line("added", &new[j]));
            j += 1;
        } else {
            out.push(line("removed", &old[i]));
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn shows_what_changed_between_unchanged_lines() {
        let d = diff(&v(&["a", "b", "c"]), &v(&["a", "x", "c", "d"]));
        let got: Vec<(&str, &str)> = d.iter().map(|l| (l.change, l.text.as_str())).collect();
        assert_eq!(
            got,
            [
                ("same", "a"),
                ("added", "x"),
                ("removed", "b"),
                ("same", "c"),
                ("added", "d")
            ]
        );
    }
}
