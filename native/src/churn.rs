//! The churn phrases found in ASCII text (`processor.domain.churn.ChurnPhrases`, natively).
//!
//! The Python class matches with a regular expression; on a mention's text that scan was a
//! tenth of the processing code's instructions (`finditer` trying its case-insensitive
//! alternation at every letter). Here the same question is answered by a direct scan, with
//! the expression's exact semantics where they are simple: ASCII text and ASCII phrases.
//! There a case-insensitive match is a comparison of lowercased bytes, `\w` is
//! `[A-Za-z0-9_]` and `\s` the ASCII spaces Python's `str.isspace` knows. Other text goes
//! to the expression (the Python class decides), so the two never disagree.

/// Python's `\w` on an ASCII character.
fn is_word(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

/// Python's `\s` on an ASCII character (`str.isspace`: 0x1c-0x1f are separators too).
fn is_space(byte: u8) -> bool {
    matches!(byte, b'\t'..=b'\r' | 0x1c..=0x1f | b' ')
}

/// Where `words` (lowercase, joined by `\s+`) end when they start at `start`, case
/// insensitively; None if they do not match there.
fn words_end(text: &[u8], start: usize, words: &[Vec<u8>]) -> Option<usize> {
    let mut at = start;
    for (number, word) in words.iter().enumerate() {
        if number > 0 {
            // Greedy is exact: a word never starts with a space.
            let spaces = text[at..]
                .iter()
                .take_while(|byte| is_space(**byte))
                .count();
            if spaces == 0 {
                return None;
            }
            at += spaces;
        }
        let candidate = text.get(at..at + word.len())?;
        if !candidate
            .iter()
            .zip(word)
            .all(|(byte, expected)| byte.to_ascii_lowercase() == *expected)
        {
            return None;
        }
        at += word.len();
    }
    Some(at)
}

/// The negations of `_NEGATED`, each as its words.
const NEGATIONS: &[&[&str]] = &[
    &["not"],
    &["never"],
    &["no"],
    &["won't"],
    &["wont"],
    &["don't"],
    &["dont"],
    &["isn't"],
    &["am", "not"],
    &["i'm", "not"],
    &["wouldn't"],
    &["wasn't"],
    &["without"],
];

/// Characters before a phrase searched for a negation (`_NEGATION_REACH`).
const NEGATION_REACH: usize = 40;

/// The phrases of a list, in the order the expression's alternation tries them.
pub struct PhraseMatcher {
    phrases: Vec<Vec<Vec<u8>>>,
    negations: Vec<Vec<Vec<u8>>>,
    /// The phrases' first letters: most positions start none, and are passed at once.
    firsts: [bool; 256],
}

fn lowercase_words<S: AsRef<str>>(words: &[S]) -> Vec<Vec<u8>> {
    words
        .iter()
        .map(|word| word.as_ref().as_bytes().to_ascii_lowercase())
        .collect()
}

impl PhraseMatcher {
    /// Phrases as their words, in the alternation's order (longest pattern first); None
    /// if any is not ASCII (the expression then answers for every text).
    pub fn new(phrases: &[Vec<String>]) -> Option<PhraseMatcher> {
        let ascii = phrases.iter().all(|words| {
            !words.is_empty() && words.iter().all(|word| !word.is_empty() && word.is_ascii())
        });
        if !ascii {
            return None;
        }
        let phrases: Vec<Vec<Vec<u8>>> =
            phrases.iter().map(|words| lowercase_words(words)).collect();
        let mut firsts = [false; 256];
        for words in &phrases {
            firsts[words[0][0] as usize] = true;
        }
        let negations = NEGATIONS
            .iter()
            .map(|words| lowercase_words(words))
            .collect();
        Some(PhraseMatcher {
            phrases,
            negations,
            firsts,
        })
    }

    /// Whether an ASCII text states leaving: a phrase as a whole word that no negation
    /// shortly before turns round (`ChurnPhrases.stated_in`). None for text not ASCII.
    pub fn stated_in(&self, text: &str) -> Option<bool> {
        if !text.is_ascii() {
            return None;
        }
        let text = text.as_bytes();
        let mut from = 0;
        while let Some((start, end)) = self.next_match(text, from) {
            let window = &text[start.saturating_sub(NEGATION_REACH)..start];
            if !self.negated(window) {
                return Some(true);
            }
            from = end; // `finditer` goes on after the match
        }
        Some(false)
    }

    /// The leftmost match at or after `from`: `(?<!\w)(?:phrases)(?!\w)`, the first phrase
    /// in order that matches there.
    fn next_match(&self, text: &[u8], from: usize) -> Option<(usize, usize)> {
        for start in from..text.len() {
            if !self.firsts[text[start].to_ascii_lowercase() as usize] {
                continue;
            }
            if start > 0 && is_word(text[start - 1]) {
                continue;
            }
            for words in &self.phrases {
                if let Some(end) = words_end(text, start, words) {
                    if end == text.len() || !is_word(text[end]) {
                        return Some((start, end));
                    }
                }
            }
        }
        None
    }

    /// `_NEGATED.search(window)`: a negation as a whole word, then at most two words and
    /// anything not a word to the window's end.
    fn negated(&self, window: &[u8]) -> bool {
        for start in 0..window.len() {
            if !is_word(window[start]) || (start > 0 && is_word(window[start - 1])) {
                continue;
            }
            for words in &self.negations {
                let end = match words_end(window, start, words) {
                    Some(end) => end,
                    None => continue,
                };
                if end < window.len() && is_word(window[end]) {
                    continue;
                }
                let mut runs = 0;
                let mut in_word = false;
                for byte in &window[end..] {
                    let word = is_word(*byte);
                    if word && !in_word {
                        runs += 1;
                    }
                    in_word = word;
                }
                if runs <= 2 {
                    return true;
                }
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(phrases: &[&str]) -> PhraseMatcher {
        let mut words: Vec<Vec<String>> = phrases
            .iter()
            .map(|phrase| phrase.split_whitespace().map(str::to_string).collect())
            .collect();
        words.sort_by_key(|words| std::cmp::Reverse(words.join("\\s+").len()));
        PhraseMatcher::new(&words).expect("ascii")
    }

    #[test]
    fn whole_words_any_case_any_spaces() {
        let phrases = matcher(&["cancel my account", "switching to"]);
        assert_eq!(
            phrases.stated_in("I will CANCEL   my\taccount today"),
            Some(true)
        );
        assert_eq!(phrases.stated_in("recancel my account"), Some(false));
        assert_eq!(phrases.stated_in("cancel my accounts"), Some(false));
        assert_eq!(phrases.stated_in("switching to_"), Some(false));
        assert_eq!(phrases.stated_in("switching\x1cto rivals"), Some(true));
    }

    #[test]
    fn a_negation_shortly_before_turns_it_round() {
        let phrases = matcher(&["cancel my account"]);
        assert_eq!(
            phrases.stated_in("I would never cancel my account"),
            Some(false)
        );
        assert_eq!(
            phrases.stated_in("not sure, I may cancel my account"),
            Some(true)
        );
        assert_eq!(
            phrases.stated_in("I'm   NOT going to cancel my account"),
            Some(false)
        );
        // Negated once, stated again later.
        assert_eq!(
            phrases.stated_in("won't cancel my account... well, cancel my account now"),
            Some(true)
        );
    }

    #[test]
    fn text_beyond_ascii_is_left_to_the_expression() {
        let phrases = matcher(&["switching to"]);
        assert_eq!(phrases.stated_in("switching to ‘them’"), None);
        assert!(PhraseMatcher::new(&[vec!["café".to_string()]]).is_none());
    }
}
