//! Keras's `summary()` table.

/// `34826` → `34,826`
fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Bytes as Keras prints them (`136.04 KB`, `0.00 B`).
fn bytes(params: usize) -> String {
    let b = params as f64 * 4.0;
    let (v, u) = if b >= 1024.0 * 1024.0 * 1024.0 {
        (b / (1024.0 * 1024.0 * 1024.0), "GB")
    } else if b >= 1024.0 * 1024.0 {
        (b / (1024.0 * 1024.0), "MB")
    } else if b >= 1024.0 {
        (b / 1024.0, "KB")
    } else {
        (b, "B")
    };
    format!("{v:.2} {u}")
}

/// One row of the table.
pub(crate) struct Row {
    /// `dense_1 (Dense)`.
    pub name: String,
    /// `(None, 10)`.
    pub shape: String,
    /// Parameter count.
    pub params: usize,
    /// The "Connected to" cell (functional models only).
    pub connected: Option<String>,
}

/// Greedy word wrap of `text` into lines of at most `width` characters; a word longer than
/// a line is cut with `…`, as Keras's (rich) tables do.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let word: String = if word.chars().count() > width {
            word.chars()
                .take(width.saturating_sub(1))
                .chain(std::iter::once('…'))
                .collect()
        } else {
            word.to_string()
        };
        if cur.is_empty() {
            cur = word;
        } else if cur.chars().count() + 1 + word.chars().count() <= width {
            cur = format!("{cur} {word}");
        } else {
            lines.push(std::mem::take(&mut cur));
            cur = word;
        }
    }
    lines.push(cur);
    lines
}

/// Keras's summary table: one row per layer with its output shape, parameter count and, for
/// functional models, the "Connected to" column; then the totals. Column widths are those
/// Keras uses on an 80-column terminal.
pub(crate) fn table(
    model_name: &str,
    rows: &[Row],
    weights: usize,
    trainable: usize,
    optimizer: Option<usize>,
) -> String {
    let total = weights + optimizer.unwrap_or(0);
    let functional = rows.iter().any(|r| r.connected.is_some());
    let w: Vec<usize> = if functional {
        vec![21, 19, 12, 19]
    } else {
        vec![33, 24, 15]
    };
    let line = |l: &str, m: &str, r: &str, fill: &str| {
        let parts: Vec<String> = w.iter().map(|&n| fill.repeat(n)).collect();
        format!("{l}{}{r}\n", parts.join(m))
    };
    let row = |cells: &[String], edge: &str| -> String {
        let wrapped: Vec<Vec<String>> = cells.iter().zip(&w).map(|(c, &n)| wrap(c, n - 2)).collect();
        let height = wrapped.iter().map(Vec::len).max().unwrap_or(1);
        let mut out = String::new();
        for i in 0..height {
            out += edge;
            for (k, (lines, &n)) in wrapped.iter().zip(&w).enumerate() {
                let t = lines.get(i).map_or("", String::as_str);
                let pad = (n - 2).saturating_sub(t.chars().count());
                if k == 2 {
                    out += &format!(" {}{t} {edge}", " ".repeat(pad));
                } else {
                    out += &format!(" {t}{} {edge}", " ".repeat(pad));
                }
            }
            out += "\n";
        }
        out
    };
    let mut header = vec![
        "Layer (type)".to_string(),
        "Output Shape".into(),
        "Param #".into(),
    ];
    if functional {
        header.push("Connected to".into());
    }
    let mut s = format!("Model: \"{model_name}\"\n");
    s += &line("┏", "┳", "┓", "━");
    s += &row(&header, "┃");
    s += &line("┡", "╇", "┩", "━");
    for (i, r) in rows.iter().enumerate() {
        let mut cells = vec![r.name.clone(), r.shape.clone(), thousands(r.params)];
        if functional {
            cells.push(r.connected.clone().unwrap_or_default());
        }
        s += &row(&cells, "│");
        if i + 1 < rows.len() {
            s += &line("├", "┼", "┤", "─");
        }
    }
    s += &line("└", "┴", "┘", "─");
    s += &format!(" Total params: {} ({})\n", thousands(total), bytes(total));
    s += &format!(
        " Trainable params: {} ({})\n",
        thousands(trainable),
        bytes(trainable)
    );
    s += &format!(
        " Non-trainable params: {} ({})\n",
        thousands(weights - trainable),
        bytes(weights - trainable)
    );
    if let Some(n) = optimizer {
        s += &format!(" Optimizer params: {} ({})\n", thousands(n), bytes(n));
    }
    s
}

/// Keras's "Optimizer params": the optimizer's variables once it is built.
pub(crate) fn optimizer_params(compiled: Option<&crate::trainers::Compiled>) -> Option<usize> {
    let o = compiled?.optimizer_ref();
    o.built()
        .then(|| o.variables().iter().map(crate::Variable::numel).sum())
}

#[cfg(test)]
mod tests {
    #[test]
    fn numbers_print_as_keras_prints_them() {
        assert_eq!(super::thousands(34826), "34,826");
        assert_eq!(super::thousands(320), "320");
        assert_eq!(super::bytes(34826), "136.04 KB");
        assert_eq!(super::bytes(0), "0.00 B");
        assert_eq!(
            super::wrap("input_layer (InputLayer)", 19),
            vec!["input_layer", "(InputLayer)"]
        );
        assert_eq!(
            super::wrap("input_layer[0][0], bb[0][0]", 17),
            vec!["input_layer[0][0…", "bb[0][0]"]
        );
    }
}
