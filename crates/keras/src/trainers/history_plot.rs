//! [`History::plot`]: training curves as a PNG or SVG file.

use super::History;
use keras_tensor::{Error, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;

/// The font family registered for the plots: DejaVu Sans, compiled in (no system fonts).
/// The name is also a valid CSS font list, so an SVG viewer without DejaVu Sans falls back to
/// its sans-serif font.
const FONT: &str = "DejaVu Sans, sans-serif";
const PANEL: (u32, u32) = (520, 380);
/// Matplotlib's first two colours, for the training and the validation curve.
const TRAIN: RGBColor = RGBColor(31, 119, 180);
const VAL: RGBColor = RGBColor(255, 127, 14);

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are a valid TrueType font; a failure would only leave text undrawn.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
    });
}

fn plot_error(msg: impl std::fmt::Display) -> Error {
    Error::InvalidArgument {
        op: "History.plot",
        msg: msg.to_string(),
    }
}

/// One panel: a title and its curves (name, points).
struct Panel {
    title: String,
    series: Vec<(String, Vec<(f64, f64)>)>,
}

impl History {
    /// The panels: `loss` first, then each other metric alphabetically, its `val_` curve on
    /// the same panel; a `val_` metric without a training one gets its own.
    fn panels(&self) -> Vec<Panel> {
        let mut names: Vec<&str> = self
            .history
            .keys()
            .map(String::as_str)
            .filter(|k| match k.strip_prefix("val_") {
                Some(base) => !self.history.contains_key(base),
                None => true,
            })
            .collect();
        names.sort_by_key(|k| (*k != "loss", *k));
        names
            .into_iter()
            .map(|name| {
                let mut series = vec![(name.to_string(), self.points(name))];
                let val = format!("val_{name}");
                if self.history.contains_key(&val) {
                    series.push((val.clone(), self.points(&val)));
                }
                Panel {
                    title: name.to_string(),
                    series,
                }
            })
            .collect()
    }

    /// `(epoch number, value)` for a metric. A curve with fewer values than epochs (a
    /// validation run every `validation_freq` epochs) is spread evenly over them, ending at
    /// the last epoch. Non-finite values are left out.
    fn points(&self, key: &str) -> Vec<(f64, f64)> {
        let values = &self.history[key];
        let n = self.epoch.len();
        let epoch_of = |i: usize| -> f64 {
            if n == 0 {
                return (i + 1) as f64;
            }
            let idx = if values.len() == n || values.len() > n {
                i.min(n - 1)
            } else {
                ((i + 1) * n / values.len()).saturating_sub(1)
            };
            (self.epoch[idx] + 1) as f64
        };
        values
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_finite())
            .map(|(i, v)| (epoch_of(i), *v))
            .collect()
    }

    /// Draws the training curves, one panel per metric (`loss` with `val_loss`, `accuracy`
    /// with `val_accuracy`, …, `learning_rate` when a callback logged it), against the epoch
    /// number (1-based). The format follows the extension: `.png` or `.svg`. The file is
    /// written to a temporary file in the same folder, then renamed over `path`, so a reader
    /// never sees a half-written plot.
    ///
    /// ```
    /// use keras::History;
    /// let mut h = History::default();
    /// h.epoch = vec![0, 1, 2];
    /// h.history.insert("loss".into(), vec![0.9, 0.5, 0.4]);
    /// h.history.insert("val_loss".into(), vec![1.0, 0.7, 0.6]);
    /// let path = std::env::temp_dir().join(format!("keras_history_doc_{}.svg", std::process::id()));
    /// h.plot(&path)?;
    /// assert!(std::fs::read_to_string(&path).unwrap().starts_with("<svg"));
    /// # std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// An empty history, an extension other than `png` / `svg`, or a file that cannot be
    /// written.
    pub fn plot(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        if ext != "png" && ext != "svg" {
            return Err(plot_error(format!(
                "cannot tell the format of {}: use a .png or .svg file name",
                path.display()
            )));
        }
        let panels = self.panels();
        if panels.is_empty() {
            return Err(plot_error("the history is empty: nothing to plot"));
        }
        let cols = panels.len().min(2);
        let rows = panels.len().div_ceil(cols);
        let size = (PANEL.0 * cols as u32, PANEL.1 * rows as u32);
        register_font();
        let tmp = temp_path(path, &ext);
        let result = if ext == "png" {
            let root = BitMapBackend::new(&tmp, size).into_drawing_area();
            draw(&root, &panels, (rows, cols))
        } else {
            let mut svg = String::new();
            {
                let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
                draw(&root, &panels, (rows, cols))?;
            }
            std::fs::write(&tmp, svg).map_err(|e| plot_error(format!("cannot write {}: {e}", tmp.display())))
        };
        let result = result.and_then(|_| {
            std::fs::rename(&tmp, path).map_err(|e| {
                plot_error(format!(
                    "cannot rename {} to {}: {e}",
                    tmp.display(),
                    path.display()
                ))
            })
        });
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }
}

/// A hidden temporary file next to `path`, keeping the extension (the PNG encoder picks the
/// format from it).
fn temp_path(path: &Path, ext: &str) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("plot");
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!(".{name}.{}-{n}.tmp.{ext}", std::process::id()))
}

/// Digits after the point for axis labels spaced by about `step`.
fn decimals(step: f64) -> usize {
    if !(step.is_finite() && step > 0.0) {
        return 2;
    }
    (-step.log10()).ceil().clamp(0.0, 8.0) as usize
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    panels: &[Panel],
    grid: (usize, usize),
) -> Result<()> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| plot_error(e);
    root.fill(&WHITE).map_err(e)?;
    for (area, panel) in root.split_evenly(grid).iter().zip(panels) {
        let pts = panel.series.iter().flat_map(|(_, p)| p.iter());
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for &(x, y) in pts {
            (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
        }
        if x0 > x1 {
            // Nothing finite to draw.
            (x0, x1, y0, y1) = (1.0, 1.0, 0.0, 1.0);
        }
        if x1 - x0 < 1.0 {
            (x0, x1) = (x0 - 0.5, x1 + 0.5);
        }
        let pad = if y1 > y0 {
            (y1 - y0) * 0.05
        } else {
            y0.abs().max(1.0) * 0.1
        };
        let (y0, y1) = (y0 - pad, y1 + pad);
        const Y_LABELS: usize = 8;
        let y_dec = decimals((y1 - y0) / Y_LABELS as f64);
        // The legend goes where the first curve does not end: below it when it ends high.
        let ends_high = panel.series[0]
            .1
            .last()
            .is_some_and(|&(_, y)| y > (y0 + y1) / 2.0);
        let mut chart = ChartBuilder::on(area)
            .caption(&panel.title, (FONT, 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(e)?;
        let n_epochs = (x1 - x0).round().max(1.0) as usize + 1;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .x_labels(n_epochs.min(10))
            .x_label_formatter(&|v| format!("{}", v.round() as i64))
            .y_labels(Y_LABELS)
            .y_label_formatter(&|v| format!("{v:.y_dec$}"))
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .light_line_style(WHITE.mix(0.0))
            .bold_line_style(BLACK.mix(0.1))
            .draw()
            .map_err(e)?;
        for (i, (name, points)) in panel.series.iter().enumerate() {
            let color = if i == 0 { TRAIN } else { VAL };
            chart
                .draw_series(LineSeries::new(points.iter().copied(), color.stroke_width(2)))
                .map_err(e)?
                .label(name.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
            chart
                .draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))
                .map_err(e)?;
        }
        chart
            .configure_series_labels()
            .position(if ends_high {
                SeriesLabelPosition::LowerRight
            } else {
                SeriesLabelPosition::UpperRight
            })
            .label_font((FONT, 13))
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK.mix(0.3))
            .draw()
            .map_err(e)?;
    }
    root.present().map_err(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history() -> History {
        let mut h = History {
            epoch: (0..6).collect(),
            ..Default::default()
        };
        let put = |h: &mut History, k: &str, v: &[f64]| {
            h.history.insert(k.into(), v.to_vec());
        };
        put(&mut h, "loss", &[0.9, 0.6, 0.45, 0.4, 0.38, 0.37]);
        put(&mut h, "val_loss", &[1.0, 0.7, 0.6, 0.58, 0.59, f64::NAN]);
        put(&mut h, "accuracy", &[0.5, 0.7, 0.8, 0.85, 0.86, 0.88]);
        put(&mut h, "val_accuracy", &[0.45, 0.66, 0.75]); // validation_freq = 2
        put(&mut h, "learning_rate", &[0.001; 6]);
        put(&mut h, "val_extra", &[1.0; 6]);
        h
    }

    fn tmp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("keras_plot_{}_{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn panels_pair_training_and_validation_curves() {
        let h = history();
        let p = h.panels();
        let titles: Vec<&str> = p.iter().map(|p| p.title.as_str()).collect();
        assert_eq!(titles, vec!["loss", "accuracy", "learning_rate", "val_extra"]);
        assert_eq!(p[0].series.len(), 2);
        assert_eq!(p[0].series[1].1.len(), 5); // the NaN is left out
                                               // Validation every 2 epochs: epochs 2, 4, 6.
        let xs: Vec<f64> = p[1].series[1].1.iter().map(|q| q.0).collect();
        assert_eq!(xs, vec![2.0, 4.0, 6.0]);
        assert_eq!(p[2].series.len(), 1);
    }

    #[test]
    fn writes_png_and_svg() {
        let dir = tmp("ok");
        let h = history();
        let png = dir.join("curves.PNG");
        h.plot(&png).unwrap();
        let bytes = std::fs::read(&png).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        // IHDR: width and height of the 2 x 2 grid.
        assert_eq!(&bytes[16..24], &[0, 0, 4, 16, 0, 0, 2, 248]);
        let svg = dir.join("curves.svg");
        h.plot(&svg).unwrap();
        let text = std::fs::read_to_string(&svg).unwrap();
        assert!(text.starts_with("<svg") && text.trim_end().ends_with("</svg>"));
        for label in ["val_accuracy", "learning_rate", "epoch"] {
            assert!(text.contains(&format!(">\n{label}\n</text>")), "{label}");
        }
        assert!(text.contains(r#"font-family="DejaVu Sans, sans-serif""#));
        // Only the two plots are left: the temporary files were renamed.
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, vec!["curves.PNG", "curves.svg"]);
        // A one-epoch history and a constant curve still plot.
        let mut one = History {
            epoch: vec![0],
            ..Default::default()
        };
        one.history.insert("loss".into(), vec![0.5]);
        one.plot(dir.join("one.png")).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn errors() {
        let dir = tmp("err");
        let e = history().plot(dir.join("x.jpg")).unwrap_err().to_string();
        assert!(e.contains(".png or .svg"), "{e}");
        let e = History::default()
            .plot(dir.join("x.png"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("empty"), "{e}");
        let e = history().plot(dir.join("missing/x.svg")).unwrap_err().to_string();
        assert!(e.contains("cannot write"), "{e}");
        assert!(history().plot(dir.join("missing/x.png")).is_err());
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
