//! Keras's `summary()` table.

use crate::layers::{fmt_shape, Layer, Shape};

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

/// The summary table of a sequential stack: one row per layer with its output shape and
/// parameter count, then the totals.
pub(crate) fn table(model_name: &str, layers: &[Box<dyn Layer>], shapes: &[Shape]) -> String {
    let w = [33usize, 24, 15];
    let line = |l: &str, m: &str, r: &str, fill: &str| {
        format!(
            "{l}{}{m}{}{m}{}{r}\n",
            fill.repeat(w[0]),
            fill.repeat(w[1]),
            fill.repeat(w[2])
        )
    };
    let row = |a: &str, b: &str, c: &str, edge: &str| {
        format!(
            "{edge} {a:<aw$}{edge} {b:<bw$}{edge} {c:>cw$} {edge}\n",
            aw = w[0] - 1,
            bw = w[1] - 1,
            cw = w[2] - 2
        )
    };
    let mut s = format!("Model: \"{model_name}\"\n");
    s += &line("┏", "┳", "┓", "━");
    s += &row("Layer (type)", "Output Shape", "Param #", "┃");
    s += &line("┡", "╇", "┩", "━");
    for (i, (l, shape)) in layers.iter().zip(shapes).enumerate() {
        s += &row(
            &format!("{} ({})", l.name(), l.class_name()),
            &fmt_shape(shape),
            &thousands(l.count_params()),
            "│",
        );
        if i + 1 < layers.len() {
            s += &line("├", "┼", "┤", "─");
        }
    }
    s += &line("└", "┴", "┘", "─");
    let total: usize = layers.iter().map(|l| l.count_params()).sum();
    let trainable: usize = layers
        .iter()
        .map(|l| l.trainable_weights().iter().map(|v| v.numel()).sum::<usize>())
        .sum();
    s += &format!(" Total params: {} ({})\n", thousands(total), bytes(total));
    s += &format!(
        " Trainable params: {} ({})\n",
        thousands(trainable),
        bytes(trainable)
    );
    s += &format!(
        " Non-trainable params: {} ({})\n",
        thousands(total - trainable),
        bytes(total - trainable)
    );
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn numbers_print_as_keras_prints_them() {
        assert_eq!(super::thousands(34826), "34,826");
        assert_eq!(super::thousands(320), "320");
        assert_eq!(super::bytes(34826), "136.04 KB");
        assert_eq!(super::bytes(0), "0.00 B");
    }
}
