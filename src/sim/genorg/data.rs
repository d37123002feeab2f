//! Static pools the generator draws from: name cultures, office locations,
//! departments and their job ladders. Every string is BMP-only (≤ 3 UTF-8 bytes
//! per character), because Okta rejects 4-byte characters.

/// A naming culture. Pairs are `(native, ascii)`; an empty `ascii` means
/// "fold the native spelling" (Latin scripts with diacritics).
pub struct Culture {
    pub first: &'static [(&'static str, &'static str)],
    pub last: &'static [(&'static str, &'static str)],
    /// Display "Last First" (East Asian order) instead of "First Last".
    pub family_first: bool,
    /// `preferredLanguage` for people of this culture.
    pub language: &'static str,
}

macro_rules! latin {
    ($($n:expr),* $(,)?) => { &[$(($n, "")),*] };
}

pub const CULTURES: &[Culture] = &[
    // 0 English (US/UK/AU/CA)
    Culture {
        first: latin![
            "James",
            "Mary",
            "Robert",
            "Patricia",
            "John",
            "Jennifer",
            "Michael",
            "Linda",
            "William",
            "Elizabeth",
            "David",
            "Sarah",
            "Emily",
            "Daniel",
            "Olivia",
            "Thomas",
            "Chloë",
            "Zoë",
            "Renée",
            "Ashley",
            "Christopher",
            "Jessica",
            "Matthew",
            "Amanda"
        ],
        last: latin![
            "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson",
            "Taylor", "Anderson", "Thomas", "Moore", "Martin", "Clarke", "O'Brien", "Walker",
            "Hughes", "Evans", "Baker", "Wright", "Murphy", "Kelly"
        ],
        family_first: false,
        language: "en",
    },
    // 1 German
    Culture {
        first: latin![
            "Jürgen",
            "Günther",
            "Anna",
            "Lukas",
            "Jörg",
            "Käthe",
            "Maximilian",
            "Sophie",
            "Björn",
            "Lena",
            "Uwe",
            "Ingrid",
            "Matthias",
            "Hannah",
            "Dieter",
            "Jürgen"
        ],
        last: latin![
            "Müller",
            "Schmidt",
            "Schneider",
            "Fischer",
            "Weiß",
            "Groß",
            "Schäfer",
            "Köhler",
            "Wagner",
            "Becker",
            "Hoffmann",
            "Schröder",
            "Krüger",
            "Bäcker",
            "Strauß",
            "Vogel"
        ],
        family_first: false,
        language: "de",
    },
    // 2 French
    Culture {
        first: latin![
            "François",
            "Amélie",
            "Jérôme",
            "Hélène",
            "Léa",
            "Benoît",
            "Élodie",
            "Gaël",
            "Noël",
            "Céline",
            "Mathéo",
            "Inès",
            "Théo",
            "Maëlle",
            "Loïc",
            "Anaïs"
        ],
        last: latin![
            "Lefèvre",
            "Dubois",
            "Moreau",
            "Girard",
            "Bézier",
            "Lemaître",
            "Rousseau",
            "Fontaine",
            "Chevalier",
            "Mercier",
            "Bonnet",
            "Faure",
            "Gauthier",
            "Boucher"
        ],
        family_first: false,
        language: "fr",
    },
    // 3 Spanish
    Culture {
        first: latin![
            "José", "María", "Jesús", "Lucía", "Álvaro", "Sofía", "Andrés", "Inés", "Raúl",
            "Begoña", "Iñaki", "Ramón", "Ana", "Martín", "Mónica", "Óscar"
        ],
        last: latin![
            "García",
            "Fernández",
            "González",
            "Rodríguez",
            "López",
            "Martínez",
            "Sánchez",
            "Pérez",
            "Gómez",
            "Muñoz",
            "Jiménez",
            "Díaz",
            "Núñez",
            "Ibáñez",
            "Ortiz"
        ],
        family_first: false,
        language: "es",
    },
    // 4 Portuguese (Brazil)
    Culture {
        first: latin![
            "João",
            "Conceição",
            "Antônio",
            "Luíza",
            "Gonçalo",
            "Júlia",
            "Thiago",
            "Beatriz",
            "Vinícius",
            "Letícia",
            "Caio",
            "Mariana",
            "Sebastião",
            "Lívia",
            "Otávio"
        ],
        last: latin![
            "Silva",
            "Santos",
            "Oliveira",
            "Souza",
            "Conceição",
            "Araújo",
            "Simões",
            "Magalhães",
            "Gonçalves",
            "Ribeiro",
            "Carvalho",
            "Lima",
            "Pereira",
            "Assunção",
            "Brandão"
        ],
        family_first: false,
        language: "pt",
    },
    // 5 Polish
    Culture {
        first: latin![
            "Łukasz",
            "Małgorzata",
            "Paweł",
            "Agnieszka",
            "Wojciech",
            "Katarzyna",
            "Michał",
            "Zofia",
            "Józef",
            "Grażyna",
            "Bartłomiej",
            "Żaneta"
        ],
        last: latin![
            "Wójcik",
            "Kowalski",
            "Nowak",
            "Wiśniewski",
            "Lewandowska",
            "Dąbrowski",
            "Zieliński",
            "Szymańska",
            "Woźniak",
            "Kozłowski",
            "Jankowska",
            "Mazur"
        ],
        family_first: false,
        language: "pl",
    },
    // 6 Nordic
    Culture {
        first: latin![
            "Søren",
            "Björk",
            "Åsa",
            "Øystein",
            "Sigríður",
            "Magnús",
            "Ingrid",
            "Linnéa",
            "Mikkel",
            "Freja",
            "Þór",
            "Ástrós",
            "Kjell",
            "Sölvi"
        ],
        last: latin![
            "Kierkegaard",
            "Guðmundsdóttir",
            "Jørgensen",
            "Åberg",
            "Lindqvist",
            "Sæther",
            "Nyström",
            "Halvorsen",
            "Björnsson",
            "Østergaard",
            "Sandström",
            "Þórsdóttir"
        ],
        family_first: false,
        language: "sv",
    },
    // 7 Japanese
    Culture {
        first: &[
            ("太郎", "taro"),
            ("花子", "hanako"),
            ("健", "ken"),
            ("陽菜", "hina"),
            ("翔太", "shota"),
            ("さくら", "sakura"),
            ("大輔", "daisuke"),
            ("美咲", "misaki"),
            ("蓮", "ren"),
            ("結衣", "yui"),
        ],
        last: &[
            ("山田", "yamada"),
            ("佐藤", "sato"),
            ("鈴木", "suzuki"),
            ("高橋", "takahashi"),
            ("田中", "tanaka"),
            ("伊藤", "ito"),
            ("渡辺", "watanabe"),
            ("中村", "nakamura"),
            ("小林", "kobayashi"),
            ("加藤", "kato"),
        ],
        family_first: true,
        language: "ja",
    },
    // 8 Russian
    Culture {
        first: &[
            ("Иван", "ivan"),
            ("Ольга", "olga"),
            ("Дмитрий", "dmitry"),
            ("Анастасия", "anastasia"),
            ("Сергей", "sergey"),
            ("Екатерина", "ekaterina"),
            ("Алексей", "alexey"),
            ("Наталья", "natalya"),
            ("Юрий", "yuri"),
            ("Татьяна", "tatyana"),
        ],
        last: &[
            ("Петров", "petrov"),
            ("Иванова", "ivanova"),
            ("Смирнов", "smirnov"),
            ("Кузнецова", "kuznetsova"),
            ("Попов", "popov"),
            ("Соколова", "sokolova"),
            ("Лебедев", "lebedev"),
            ("Новикова", "novikova"),
            ("Фёдоров", "fedorov"),
        ],
        family_first: false,
        language: "ru",
    },
    // 9 Arabic
    Culture {
        first: &[
            ("محمد", "mohammed"),
            ("فاطمة", "fatima"),
            ("أحمد", "ahmed"),
            ("مريم", "maryam"),
            ("علي", "ali"),
            ("ليلى", "layla"),
            ("يوسف", "youssef"),
            ("نور", "nour"),
            ("عمر", "omar"),
            ("سارة", "sara"),
        ],
        last: &[
            ("الحسن", "alhassan"),
            ("منصور", "mansour"),
            ("حداد", "haddad"),
            ("خوري", "khoury"),
            ("العلي", "alali"),
            ("سعيد", "saeed"),
            ("ناصر", "nasser"),
            ("الفارس", "alfaris"),
        ],
        family_first: false,
        language: "ar",
    },
    // 10 Nigerian
    Culture {
        first: latin![
            "Ngozi",
            "Chinedu",
            "Adaeze",
            "Oluwaseun",
            "Emeka",
            "Folake",
            "Tunde",
            "Chiamaka",
            "Babatunde",
            "Ifeoma",
            "Yetunde",
            "Obinna"
        ],
        last: latin![
            "Okafor", "Adeyemi", "Okonkwo", "Balogun", "Eze", "Nwosu", "Adebayo", "Ogunleye",
            "Chukwu", "Afolabi", "Ọlá"
        ],
        family_first: false,
        language: "en",
    },
    // 11 Vietnamese (family name first)
    Culture {
        first: latin![
            "Văn An",
            "Thị Hương",
            "Minh Đức",
            "Thu Trang",
            "Quốc Bảo",
            "Ngọc Ánh",
            "Hữu Phước",
            "Thanh Hà",
            "Đức Thắng",
            "Mỹ Linh"
        ],
        last: latin![
            "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng"
        ],
        family_first: true,
        language: "vi",
    },
    // 12 Indian
    Culture {
        first: latin![
            "Priya",
            "Arjun",
            "Ananya",
            "Rahul",
            "Sneha",
            "Vikram",
            "Divya",
            "Aditya",
            "Kavya",
            "Rohan",
            "Lakshmi",
            "Siddharth"
        ],
        last: latin![
            "Sharma",
            "Patel",
            "Iyer",
            "Reddy",
            "Nair",
            "Gupta",
            "Krishnan",
            "Menon",
            "Rao",
            "Singh",
            "Mukherjee",
            "Desai"
        ],
        family_first: false,
        language: "en",
    },
    // 13 Chinese
    Culture {
        first: &[
            ("伟", "wei"),
            ("芳", "fang"),
            ("娜", "na"),
            ("敏", "min"),
            ("静", "jing"),
            ("磊", "lei"),
            ("洋", "yang"),
            ("婷", "ting"),
            ("杰", "jie"),
            ("秀英", "xiuying"),
        ],
        last: &[
            ("王", "wang"),
            ("李", "li"),
            ("张", "zhang"),
            ("刘", "liu"),
            ("陈", "chen"),
            ("杨", "yang"),
            ("黄", "huang"),
            ("赵", "zhao"),
            ("周", "zhou"),
            ("吴", "wu"),
        ],
        family_first: true,
        language: "zh",
    },
    // 14 Korean
    Culture {
        first: &[
            ("민준", "minjun"),
            ("서연", "seoyeon"),
            ("도윤", "doyun"),
            ("지우", "jiwoo"),
            ("하준", "hajun"),
            ("수아", "sua"),
            ("지호", "jiho"),
            ("예은", "yeeun"),
        ],
        last: &[
            ("김", "kim"),
            ("이", "lee"),
            ("박", "park"),
            ("최", "choi"),
            ("정", "jung"),
            ("강", "kang"),
            ("조", "cho"),
            ("윤", "yoon"),
        ],
        family_first: true,
        language: "ko",
    },
    // 15 Turkish
    Culture {
        first: latin![
            "Çağla", "Emre", "Şule", "Burak", "Gökhan", "Ayşe", "Özge", "İlker", "Ümit", "Zeynep"
        ],
        last: latin![
            "Yılmaz", "Kaya", "Demir", "Şahin", "Çelik", "Öztürk", "Aydın", "Doğan", "Güneş"
        ],
        family_first: false,
        language: "tr",
    },
];

/// An office location.
pub struct City {
    pub city: &'static str,
    pub state: &'static str,
    pub country: &'static str,
    pub locale: &'static str,
    pub timezone: &'static str,
    pub dial: &'static str,
    /// Index into `CULTURES` for most locals.
    pub culture: usize,
    /// Relative headcount weight.
    pub weight: u32,
}

pub const CITIES: &[City] = &[
    City {
        city: "New York",
        state: "NY",
        country: "US",
        locale: "en_US",
        timezone: "America/New_York",
        dial: "+1",
        culture: 0,
        weight: 16,
    },
    City {
        city: "San Francisco",
        state: "CA",
        country: "US",
        locale: "en_US",
        timezone: "America/Los_Angeles",
        dial: "+1",
        culture: 0,
        weight: 14,
    },
    City {
        city: "Austin",
        state: "TX",
        country: "US",
        locale: "en_US",
        timezone: "America/Chicago",
        dial: "+1",
        culture: 0,
        weight: 6,
    },
    City {
        city: "Toronto",
        state: "ON",
        country: "CA",
        locale: "en_CA",
        timezone: "America/Toronto",
        dial: "+1",
        culture: 0,
        weight: 4,
    },
    City {
        city: "London",
        state: "England",
        country: "GB",
        locale: "en_GB",
        timezone: "Europe/London",
        dial: "+44",
        culture: 0,
        weight: 10,
    },
    City {
        city: "Berlin",
        state: "BE",
        country: "DE",
        locale: "de_DE",
        timezone: "Europe/Berlin",
        dial: "+49",
        culture: 1,
        weight: 6,
    },
    City {
        city: "München",
        state: "BY",
        country: "DE",
        locale: "de_DE",
        timezone: "Europe/Berlin",
        dial: "+49",
        culture: 1,
        weight: 4,
    },
    City {
        city: "Paris",
        state: "Île-de-France",
        country: "FR",
        locale: "fr_FR",
        timezone: "Europe/Paris",
        dial: "+33",
        culture: 2,
        weight: 5,
    },
    City {
        city: "Madrid",
        state: "Comunidad de Madrid",
        country: "ES",
        locale: "es_ES",
        timezone: "Europe/Madrid",
        dial: "+34",
        culture: 3,
        weight: 3,
    },
    City {
        city: "Ciudad de México",
        state: "CDMX",
        country: "MX",
        locale: "es_MX",
        timezone: "America/Mexico_City",
        dial: "+52",
        culture: 3,
        weight: 3,
    },
    City {
        city: "São Paulo",
        state: "SP",
        country: "BR",
        locale: "pt_BR",
        timezone: "America/Sao_Paulo",
        dial: "+55",
        culture: 4,
        weight: 4,
    },
    City {
        city: "Kraków",
        state: "Małopolskie",
        country: "PL",
        locale: "pl_PL",
        timezone: "Europe/Warsaw",
        dial: "+48",
        culture: 5,
        weight: 3,
    },
    City {
        city: "København",
        state: "Hovedstaden",
        country: "DK",
        locale: "da_DK",
        timezone: "Europe/Copenhagen",
        dial: "+45",
        culture: 6,
        weight: 2,
    },
    City {
        city: "Stockholm",
        state: "Stockholm",
        country: "SE",
        locale: "sv_SE",
        timezone: "Europe/Stockholm",
        dial: "+46",
        culture: 6,
        weight: 2,
    },
    City {
        city: "Tokyo",
        state: "Tokyo",
        country: "JP",
        locale: "ja_JP",
        timezone: "Asia/Tokyo",
        dial: "+81",
        culture: 7,
        weight: 4,
    },
    City {
        city: "Dubai",
        state: "Dubai",
        country: "AE",
        locale: "ar_AE",
        timezone: "Asia/Dubai",
        dial: "+971",
        culture: 9,
        weight: 2,
    },
    City {
        city: "Lagos",
        state: "Lagos",
        country: "NG",
        locale: "en_NG",
        timezone: "Africa/Lagos",
        dial: "+234",
        culture: 10,
        weight: 2,
    },
    City {
        city: "Hà Nội",
        state: "Hà Nội",
        country: "VN",
        locale: "vi_VN",
        timezone: "Asia/Ho_Chi_Minh",
        dial: "+84",
        culture: 11,
        weight: 2,
    },
    City {
        city: "Bengaluru",
        state: "KA",
        country: "IN",
        locale: "en_IN",
        timezone: "Asia/Kolkata",
        dial: "+91",
        culture: 12,
        weight: 7,
    },
    City {
        city: "Shanghai",
        state: "Shanghai",
        country: "CN",
        locale: "zh_CN",
        timezone: "Asia/Shanghai",
        dial: "+86",
        culture: 13,
        weight: 2,
    },
    City {
        city: "Seoul",
        state: "Seoul",
        country: "KR",
        locale: "ko_KR",
        timezone: "Asia/Seoul",
        dial: "+82",
        culture: 14,
        weight: 2,
    },
    City {
        city: "İstanbul",
        state: "İstanbul",
        country: "TR",
        locale: "tr_TR",
        timezone: "Europe/Istanbul",
        dial: "+90",
        culture: 15,
        weight: 2,
    },
];

/// A department: name, division, cost-centre code prefix, head title,
/// front-line manager title, individual-contributor roles, headcount weight.
pub struct Department {
    pub name: &'static str,
    pub division: &'static str,
    pub code: &'static str,
    pub head_title: &'static str,
    pub manager_title: &'static str,
    pub roles: &'static [&'static str],
    pub slug: &'static str,
    pub weight: u32,
}

pub const DEPARTMENTS: &[Department] = &[
    Department {
        name: "Engineering",
        division: "R&D",
        code: "ENG",
        head_title: "VP of Engineering",
        manager_title: "Engineering Manager",
        roles: &[
            "Software Engineer",
            "Site Reliability Engineer",
            "QA Engineer",
            "Data Engineer",
            "Frontend Engineer",
        ],
        slug: "eng",
        weight: 30,
    },
    Department {
        name: "Sales",
        division: "Go-to-market",
        code: "SLS",
        head_title: "VP of Sales",
        manager_title: "Sales Manager",
        roles: &[
            "Account Executive",
            "Sales Development Representative",
            "Solutions Engineer",
            "Account Manager",
        ],
        slug: "sales",
        weight: 18,
    },
    Department {
        name: "Support",
        division: "Go-to-market",
        code: "SUP",
        head_title: "VP of Customer Support",
        manager_title: "Support Team Lead",
        roles: &[
            "Support Engineer",
            "Customer Support Specialist",
            "Technical Account Manager",
        ],
        slug: "support",
        weight: 10,
    },
    Department {
        name: "Marketing",
        division: "Go-to-market",
        code: "MKT",
        head_title: "Chief Marketing Officer",
        manager_title: "Marketing Manager",
        roles: &[
            "Product Marketing Manager",
            "Content Strategist",
            "Growth Marketer",
            "Events Coordinator",
        ],
        slug: "mkt",
        weight: 7,
    },
    Department {
        name: "Product",
        division: "R&D",
        code: "PRD",
        head_title: "VP of Product",
        manager_title: "Group Product Manager",
        roles: &[
            "Product Manager",
            "Technical Program Manager",
            "Product Analyst",
        ],
        slug: "product",
        weight: 6,
    },
    Department {
        name: "Design",
        division: "R&D",
        code: "DSN",
        head_title: "VP of Design",
        manager_title: "Design Manager",
        roles: &["Product Designer", "UX Researcher", "Visual Designer"],
        slug: "design",
        weight: 4,
    },
    Department {
        name: "Finance",
        division: "G&A",
        code: "FIN",
        head_title: "Chief Financial Officer",
        manager_title: "Finance Manager",
        roles: &["Financial Analyst", "Accountant", "Payroll Specialist"],
        slug: "fin",
        weight: 4,
    },
    Department {
        name: "People",
        division: "G&A",
        code: "PPL",
        head_title: "Chief People Officer",
        manager_title: "People Partner Manager",
        roles: &[
            "People Partner",
            "Recruiter",
            "Learning & Development Specialist",
        ],
        slug: "people",
        weight: 4,
    },
    Department {
        name: "Legal",
        division: "G&A",
        code: "LGL",
        head_title: "General Counsel",
        manager_title: "Legal Manager",
        roles: &["Corporate Counsel", "Paralegal", "Privacy Counsel"],
        slug: "legal",
        weight: 2,
    },
    Department {
        name: "IT",
        division: "G&A",
        code: "IT",
        head_title: "Chief Information Officer",
        manager_title: "IT Manager",
        roles: &[
            "Systems Administrator",
            "IT Support Specialist",
            "Identity Engineer",
        ],
        slug: "it",
        weight: 3,
    },
    Department {
        name: "Security",
        division: "R&D",
        code: "SEC",
        head_title: "Chief Information Security Officer",
        manager_title: "Security Engineering Manager",
        roles: &[
            "Security Engineer",
            "Security Analyst",
            "Penetration Tester",
        ],
        slug: "sec",
        weight: 3,
    },
    Department {
        name: "Operations",
        division: "G&A",
        code: "OPS",
        head_title: "VP of Operations",
        manager_title: "Operations Manager",
        roles: &[
            "Operations Analyst",
            "Business Operations Associate",
            "Procurement Specialist",
        ],
        slug: "ops",
        weight: 4,
    },
    Department {
        name: "Data Science",
        division: "R&D",
        code: "DS",
        head_title: "VP of Data",
        manager_title: "Data Science Manager",
        roles: &[
            "Data Scientist",
            "Machine Learning Engineer",
            "Analytics Engineer",
        ],
        slug: "data",
        weight: 3,
    },
    Department {
        name: "Customer Success",
        division: "Go-to-market",
        code: "CS",
        head_title: "VP of Customer Success",
        manager_title: "Customer Success Manager Lead",
        roles: &[
            "Customer Success Manager",
            "Onboarding Specialist",
            "Renewals Specialist",
        ],
        slug: "cs",
        weight: 4,
    },
];

/// Company names (the `organization` attribute) and their email domains.
pub const COMPANIES: &[(&str, &str)] = &[
    ("Northwind Traders", "northwind.example"),
    ("Globex Corporation", "globex.example"),
    ("Initech", "initech.example"),
    ("Umbrella Systems", "umbrella.example"),
    ("Contoso Ltd", "contoso.example"),
    ("Fabrikam Inc", "fabrikam.example"),
];

/// IC seniority prefixes, from junior to most senior, with weights.
pub const SENIORITY: &[(&str, u32)] = &[
    ("Junior ", 12),
    ("", 40),
    ("Senior ", 32),
    ("Staff ", 10),
    ("Principal ", 6),
];

/// Words for team slugs ("eng-platform") and project groups.
pub const TEAM_WORDS: &[&str] = &[
    "platform",
    "payments",
    "identity",
    "search",
    "mobile",
    "growth",
    "infra",
    "billing",
    "data",
    "edge",
    "core",
    "api",
    "web",
    "insights",
    "reliability",
    "tooling",
    "checkout",
    "onboarding",
    "messaging",
    "storage",
];

pub const PROJECT_NAMES: &[&str] = &[
    "Phoenix", "Atlas", "Nebula", "Orion", "Falcon", "Aurora", "Zephyr", "Mercury", "Kestrel",
    "Borealis", "Odyssey", "Tundra", "Sirocco", "Halcyon", "Meridian",
];

pub const INTERESTS: &[&str] = &[
    "Running Club",
    "Book Club",
    "Board Games",
    "Photography",
    "Cycling",
    "Chess",
    "Coffee Lovers",
    "Parents Network",
    "Women in Tech",
    "Pride Network",
    "Volunteering",
    "Climbing",
    "Musicians",
    "Cooking",
    "Language Exchange",
];

/// AD-imported security groups: (samAccountName, description).
pub const AD_GROUPS: &[(&str, &str)] = &[
    ("Domain Users", "All domain users"),
    ("VPN-Users", "Remote access VPN"),
    ("Wifi-Corp", "Corporate wireless access"),
    ("FileShare-Finance", "Finance file share (read/write)"),
    ("Print-Operators", "Printer administration"),
    ("Jira-Users", "Jira Software access"),
    ("GitHub-Org-Members", "GitHub organisation membership"),
    ("Confluence-Editors", "Confluence edit rights"),
];

pub const PRONOUNS: &[&str] = &["she/her", "he/him", "they/them"];

/// Common nicknames keyed by first name.
pub const NICKNAMES: &[(&str, &str)] = &[
    ("Robert", "Bob"),
    ("William", "Bill"),
    ("Elizabeth", "Liz"),
    ("Christopher", "Chris"),
    ("Matthew", "Matt"),
    ("Jennifer", "Jen"),
    ("Maximilian", "Max"),
    ("Alexander", "Alex"),
    ("Babatunde", "Tunde"),
    ("Oluwaseun", "Seun"),
    ("Иван", "Ваня"),
    ("Дмитрий", "Дима"),
    ("Katarzyna", "Kasia"),
    ("Małgorzata", "Gosia"),
    ("José", "Pepe"),
    ("Siddharth", "Sid"),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn bmp(s: &str) -> bool {
        s.chars().all(|c| c.len_utf8() <= 3)
    }

    #[test]
    fn every_string_fits_in_three_utf8_bytes() {
        for c in CULTURES {
            for (n, a) in c.first.iter().chain(c.last.iter()) {
                assert!(bmp(n), "{n}");
                assert!(a.is_ascii(), "{a}");
            }
        }
        for c in CITIES {
            assert!(bmp(c.city) && bmp(c.state));
            assert!(c.culture < CULTURES.len());
            assert_eq!(c.country.len(), 2);
        }
        for (a, b) in NICKNAMES {
            assert!(bmp(a) && bmp(b));
        }
    }
}
