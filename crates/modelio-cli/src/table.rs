//! Plain-text output helpers: aligned tables and human-friendly numbers.

/// Renders rows under a header as left-aligned columns separated by two spaces, one line per row,
/// without trailing spaces.
pub fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            let w = cell.chars().count();
            match widths.get_mut(i) {
                Some(x) => *x = (*x).max(w),
                None => widths.push(w),
            }
        }
    }
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    let mut out = String::new();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            if i + 1 < row.len() {
                line.extend(std::iter::repeat(' ').take(widths[i].saturating_sub(cell.chars().count())));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A number for people: up to 6 decimals without trailing zeros for ordinary magnitudes,
/// scientific notation for very small or very large ones.
pub fn number(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let a = v.abs();
    if (1e-3..1e9).contains(&a) {
        let s = format!("{v:.6}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        format!("{v:.4e}")
    }
}

/// An optional number, `-` when absent.
pub fn opt_number(v: Option<f64>) -> String {
    v.map(number).unwrap_or_else(|| "-".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_columns() {
        let t = render(&["a", "long header"], &[vec!["wide cell".into(), "x".into()], vec!["b".into(), "y".into()]]);
        assert_eq!(t, "a          long header\nwide cell  x\nb          y\n");
    }

    #[test]
    fn numbers() {
        assert_eq!(number(0.75), "0.75");
        assert_eq!(number(-2.0), "-2");
        assert_eq!(number(1.5e-7), "1.5000e-7");
        assert_eq!(number(0.0), "0");
        assert_eq!(opt_number(None), "-");
    }
}
