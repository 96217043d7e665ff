//! QR codes drawn server-side as inline SVG, so an enrolment secret never leaves the server for a
//! third-party renderer. The SVG holds only geometry: the encoded text appears nowhere in it.

use qrcodegen::{QrCode, QrCodeEcc};
use std::fmt::Write as _;

/// Light modules around the code, as the QR specification asks.
const QUIET_ZONE: i32 = 4;
/// Default on-screen size of one module in CSS pixels; a stylesheet may override `width`/`height`.
const MODULE_PX: i32 = 4;

/// `text` as an accessible `<svg>` (error correction M or better, black on white, 4-module quiet
/// zone), or `None` when it is too long for any QR code.
pub(crate) fn svg(text: &str) -> Option<String> {
    // encode_text picks the smallest version that fits at M, then raises the error correction as
    // far as that version allows for free.
    let qr = QrCode::encode_text(text, QrCodeEcc::Medium).ok()?;
    let size = qr.size();
    let full = size + 2 * QUIET_ZONE;
    let px = full * MODULE_PX;

    let mut path = String::new();
    for y in 0..size {
        let mut x = 0;
        while x < size {
            if !qr.get_module(x, y) {
                x += 1;
                continue;
            }
            let start = x;
            while x < size && qr.get_module(x, y) {
                x += 1;
            }
            let run = x - start;
            // Writing to a String cannot fail.
            let _ = write!(
                path,
                "M{},{}h{run}v1h-{run}z",
                start + QUIET_ZONE,
                y + QUIET_ZONE
            );
        }
    }

    Some(format!(
        concat!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {full} {full}" "#,
            r#"width="{px}" height="{px}" role="img" shape-rendering="crispEdges">"#,
            r#"<title>QR code</title>"#,
            r##"<rect width="{full}" height="{full}" fill="#ffffff"/>"##,
            r##"<path fill="#000000" d="{path}"/>"##,
            r#"</svg>"#
        ),
        full = full,
        px = px,
        path = path,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const URI: &str = "otpauth://totp/Testvault:ann%40example.com?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Testvault&algorithm=SHA1&digits=6&period=30";

    #[test]
    fn renders_a_well_formed_svg_with_quiet_zone() {
        let out = svg(URI).expect("fits");
        let modules = QrCode::encode_text(URI, QrCodeEcc::Medium)
            .expect("fits")
            .size();
        let n = modules + 8;
        assert!(out.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" "));
        assert!(out.ends_with("</svg>"));
        assert_eq!(out.matches("<svg").count(), 1);
        assert_eq!(out.matches("</svg>").count(), 1);
        assert!(out.contains(&format!("viewBox=\"0 0 {n} {n}\"")));
        assert!(out.contains("shape-rendering=\"crispEdges\""));
        assert!(out.contains("role=\"img\""));
        assert!(out.contains("<title>QR code</title>"));
        assert_eq!(out.matches("<path ").count(), 1);
        // Black on white, every dark run inside the quiet zone.
        assert!(out.contains("fill=\"#ffffff\"") && out.contains("fill=\"#000000\""));
        let d = out
            .split_once(" d=\"")
            .and_then(|(_, rest)| rest.split_once('"'))
            .map(|(d, _)| d)
            .expect("path data");
        let mut dark = 0;
        for seg in d.split('z').filter(|s| !s.is_empty()) {
            let (start, rest) = seg
                .strip_prefix('M')
                .and_then(|s| s.split_once('h'))
                .expect("segment");
            let (x, y) = start.split_once(',').expect("x,y");
            let (x, y): (i32, i32) = (x.parse().expect("x"), y.parse().expect("y"));
            let run: i32 = rest.split_once('v').expect("v").0.parse().expect("run");
            assert_eq!(rest, format!("{run}v1h-{run}"));
            assert!(x >= 4 && y >= 4 && run >= 1 && x + run <= modules + 4 && y < modules + 4);
            dark += run;
        }
        // The three finder patterns alone have 3 × 33 dark modules.
        assert!(dark > 99);
    }

    #[test]
    fn the_text_is_nowhere_in_the_svg() {
        let out = svg(URI).expect("fits");
        assert!(!out.contains(URI));
        assert!(!out.contains("JBSWY3DP"));
        assert!(!out.contains("otpauth"));
        assert!(!out.contains("example"));
    }

    #[test]
    fn over_long_text_is_refused() {
        assert_eq!(svg(&"x".repeat(5000)), None);
        assert!(svg("").is_some());
    }
}
