//! ASCII folding for logins and email local parts: "Jürgen Groß" becomes
//! "jurgen.gross", the way HR-fed orgs usually derive usernames.

const TABLE: &[(&str, &str)] = &[
    ("àáâãäåāăąạảấầẩẫậắằẳẵặ", "a"),
    ("çćč", "c"),
    ("ďđð", "d"),
    ("èéêëēėęěẹẻẽếềểễệ", "e"),
    ("ğ", "g"),
    ("ìíîïīįıỉịĩ", "i"),
    ("ł", "l"),
    ("ñńň", "n"),
    ("òóôõöøōőọỏốồổỗộớờởỡợơ", "o"),
    ("ř", "r"),
    ("śšş", "s"),
    ("ť", "t"),
    ("ùúûüūůűųụủứừửữựư", "u"),
    ("ýÿỳỵỷỹ", "y"),
    ("źżž", "z"),
    ("ß", "ss"),
    ("æ", "ae"),
    ("œ", "oe"),
    ("þ", "th"),
];

/// Lower-case ASCII letters and digits only; diacritics folded, everything else dropped.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if let Some((_, rep)) = TABLE.iter().find(|(from, _)| from.contains(c)) {
            out.push_str(rep);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::fold;

    #[test]
    fn folds_common_latin_diacritics() {
        assert_eq!(fold("Jürgen"), "jurgen");
        assert_eq!(fold("Groß"), "gross");
        assert_eq!(fold("Łukasz"), "lukasz");
        assert_eq!(fold("Søren"), "soren");
        assert_eq!(fold("O'Brien"), "obrien");
        assert_eq!(fold("Nguyễn"), "nguyen");
        assert_eq!(fold("Văn An"), "vanan");
        assert_eq!(fold("Þórsdóttir"), "thorsdottir");
        assert_eq!(fold("İlker"), "ilker");
        assert_eq!(fold("山田"), "");
    }
}
