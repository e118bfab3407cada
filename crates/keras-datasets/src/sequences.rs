//! The word-index processing that Keras's IMDB and Reuters loaders share.

/// Adds `start_char` and `index_from` as Keras does: `[start_char] + [w + index_from …]`;
/// without a start character, only the offset (when it is not 0).
pub(crate) fn offset(xs: Vec<Vec<i64>>, start_char: Option<i64>, index_from: i64) -> Vec<Vec<i64>> {
    match start_char {
        Some(s) => xs
            .into_iter()
            .map(|x| {
                std::iter::once(s)
                    .chain(x.into_iter().map(|w| w + index_from))
                    .collect()
            })
            .collect(),
        None if index_from != 0 => xs
            .into_iter()
            .map(|x| x.into_iter().map(|w| w + index_from).collect())
            .collect(),
        None => xs,
    }
}

/// Keras's `remove_long_seq`: keeps the sequences shorter than `maxlen` (strictly).
pub(crate) fn remove_long(maxlen: usize, xs: Vec<Vec<i64>>, ys: Vec<i64>) -> (Vec<Vec<i64>>, Vec<i64>) {
    xs.into_iter().zip(ys).filter(|(x, _)| x.len() < maxlen).unzip()
}

/// Replaces (or, without `oov_char`, drops) the words outside `skip_top..num_words`. When
/// `num_words` is not given it is the largest word, which is then itself out of range: Keras
/// does the same (`w < num_words`).
pub(crate) fn limit_vocabulary(
    xs: &mut [Vec<i64>],
    num_words: Option<usize>,
    skip_top: usize,
    oov_char: Option<i64>,
) {
    let num_words = match num_words.filter(|&n| n > 0) {
        Some(n) => n as i64,
        None => xs.iter().flat_map(|x| x.iter().copied()).max().unwrap_or(0),
    };
    let skip_top = skip_top as i64;
    let keep = |w: i64| skip_top <= w && w < num_words;
    for x in xs.iter_mut() {
        match oov_char {
            Some(o) => x.iter_mut().filter(|w| !keep(**w)).for_each(|w| *w = o),
            None => x.retain(|&w| keep(w)),
        }
    }
}

/// `xs[perm]`.
pub(crate) fn permute<T: Clone>(xs: &[T], perm: &[usize]) -> Vec<T> {
    perm.iter().map(|&i| xs[i].clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keras_rules() {
        assert_eq!(offset(vec![vec![0, 5]], Some(1), 3), vec![vec![1, 3, 8]]);
        assert_eq!(offset(vec![vec![0, 5]], None, 3), vec![vec![3, 8]]);
        assert_eq!(offset(vec![vec![0, 5]], None, 0), vec![vec![0, 5]]);
        let (x, y) = remove_long(3, vec![vec![1, 2], vec![1, 2, 3]], vec![7, 8]);
        assert_eq!((x, y), (vec![vec![1, 2]], vec![7]));
        // num_words inferred: the largest word (9) is itself out of range.
        let mut xs = vec![vec![1, 4, 9], vec![2]];
        limit_vocabulary(&mut xs, None, 2, Some(0));
        assert_eq!(xs, vec![vec![0, 4, 0], vec![2]]);
        let mut xs = vec![vec![1, 4, 9], vec![2]];
        limit_vocabulary(&mut xs, Some(5), 0, None);
        assert_eq!(xs, vec![vec![1, 4], vec![2]]);
        assert_eq!(permute(&[10, 20, 30], &[2, 0, 1]), [30, 10, 20]);
    }
}
