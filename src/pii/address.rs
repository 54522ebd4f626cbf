//! Postal addresses: "42 Baker Street, flat 3, London NW1 6XE", "calle Mayor, 12, 3.º B",
//! "ул. Ленина, д. 5, кв. 12", "ulica Marszałkowska 10 m. 5, 00-590 Warszawa",
//! "北京市朝阳区建国路88号3号楼2单元501室", "تهران، خیابان ولیعصر، کوچه ۱۲، پلاک ۵، واحد ۳".
//!
//! Precision first. An address is a street marker (a word for street, avenue, square …, or a
//! Chinese street suffix) and a house number (digits in any script, or number words read by
//! [`Reader`]), with the street's name between or beside them in the order the language puts
//! them, in one stretch of text that no sentence end breaks:
//!
//! - **en**: number, capitalised name, street word: "42 Baker Street", "42 Baker St.", "forty
//!   two Baker Street"; a flat before or after ("Flat 3, 42 Baker Street", "…, apt 4B"); then a
//!   city with a UK postcode or a US state and ZIP ("London NW1 6XE", "Springfield, IL 62704");
//! - **es**: street word, capitalised name, [número | nº | n.º] number: "calle Mayor, 12",
//!   "c/ Mayor nº 12", "calle Mayor número doce", "el 12 de la calle Mayor"; then floor and door
//!   ("3.º B", "tercero B", "piso 2, puerta 4", "escalera izquierda"), postcode and city;
//! - **ru**: street word and capitalised name in either order ("ул. Ленина", "Невский
//!   проспект"), then "дом"/"д." and a number, or written digits alone ("ул. Ленина, 5"); then
//!   "корпус"/"к.", "строение"/"стр.", "квартира"/"кв.", "подъезд", "этаж"; a city ("г. Москва")
//!   and a six-digit postcode before the street join the run;
//! - **pl**: street word, capitalised name, number ("ul. Marszałkowska 10/5", "al. Jana Pawła
//!   II 15"); then the flat ("m. 5", "mieszkanie 5", "lok. 5"), postcode and city ("00-590
//!   Warszawa");
//! - **zh**: a street (…路 街 道 巷 弄 胡同) and a number with 号, or a housing estate (…小区 花园
//!   公寓 大厦 苑) and a building number (号楼 栋 幢 座 单元); administrative units before
//!   (…省 市 区 县 镇 乡 街道) and building parts after (号楼 栋 单元 层 室) join the run;
//! - **fa**: a chain of parts, from a city ("تهران، …") on, holding a street word (خیابان کوچه
//!   بلوار میدان بن‌بست کوی) with its name and a plate, unit or floor number (پلاک واحد طبقه).
//!
//! A postcode counts alone only right after a postcode keyword (postcode, zip code, código
//! postal, индекс, kod pocztowy, 邮编, کد پستی) and in the language's format (5 or 9 digits in
//! English, 5 in Spanish and Polish, 6 in Russian and Chinese, 10 in Persian); a UK postcode
//! ("NW1 6XE", whose shape is its own proof) and a US ZIP after a state ("IL 62704") count in
//! English calls anywhere.
//!
//! Not addresses: a street without a number ("I live on Baker Street", "the branch on Main
//! Street", "Wall Street Journal", "خیابان ولیعصر"), an ordinal street name ("the 5th Avenue
//! store"), a road number ("Route 66"), a number that an amount, a time, a date, a duration or
//! another number's noun claims ("12 de mayo", "улица Ленина 5 лет назад", "order 12345
//! Main Street", "at 10:30"), "дом" without a street ("я дома"), Chinese 号 outside a street
//! ("5月12号", "一号线", "3号窗口", "8号楼" of an office), and anything in a language without
//! address words ([`Language::Other`]).
//!
//! Whose address it is ([`owner`]) is a separate question, asked by the rulebook only:
//! redaction covers every address.

use std::collections::HashSet;
use std::ops::Range;
use std::sync::OnceLock;

use regex::Regex;

use super::spoken::Reader;
use super::{
    AddressOwner, POLISH_OTHER_NUMBERS, SPANISH_OTHER_NUMBERS, SpanSet, is_number_separator,
};
use crate::normalize::{self, Language, Token};

/// The address words of one language, in normalised form (see
/// [`crate::normalize::normalize_word`]); words are separated by spaces, `word*` matches any
/// word starting with `word`.
struct Words {
    /// Street words: "calle", "улица", "ulica", "خیابان"; in English the street words that end
    /// a street's name ("Street", "Rd").
    markers: &'static [&'static str],
    /// Words before a house number: "número", "дом", "nr", "پلاک".
    house: &'static [&'static str],
    /// Words before a flat, floor or door: "flat", "piso", "квартира", "m.", "واحد".
    units: &'static [&'static str],
    /// Abbreviations a '.' follows inside an address ("St.", "ul.", "д.", "Avda.").
    abbreviations: &'static [&'static str],
    /// Postcode keywords.
    postcode: &'static [&'static str],
    /// How many digits a postcode of the country has.
    postcode_digits: &'static [usize],
    /// Words between a postcode keyword and the postcode ("is", "es", "мой").
    fillers: &'static [&'static str],
    /// Words right after a number that make it an amount, a time or a date, not a house number.
    measures: &'static [&'static str],
    /// Nouns of other numbers: a number a few words after one is no house number.
    other_numbers: &'static [&'static str],
    /// Count nouns: right after a number with no house word before it, they make it a count
    /// ("calle Mayor 3 tiendas", "на улице Ленина 3 магазина"); any other word may follow a
    /// house number ("calle Mayor 5 mañana", "ul. Długa 5 jutro").
    counted: &'static [&'static str],
    /// Second-person and on-file cues: the address is the customer's.
    customer: &'static [&'static str],
    /// First-person plural and branch words: the address is the company's.
    company: &'static [&'static str],
}

const ENGLISH: Words = Words {
    markers: &[
        "street",
        "st",
        "road",
        "rd",
        "avenue",
        "ave",
        "lane",
        "ln",
        "boulevard",
        "blvd",
        "highway",
        "hwy",
        "parkway",
        "pkwy",
        "drive",
        "dr",
        "terrace",
        "crescent",
        "court",
        "ct",
        "place",
        "square",
        "sq",
        "close",
        "way",
        "gardens",
        "grove",
        "mews",
        "row",
        "circle",
        "plaza",
        "alley",
    ],
    house: &[],
    units: &["flat", "apartment", "apt", "unit", "suite", "ste", "floor"],
    abbreviations: &[
        "st", "rd", "ave", "ln", "blvd", "hwy", "pkwy", "dr", "ct", "sq", "apt", "ste", "no",
    ],
    postcode: &[
        "postcode",
        "post code",
        "postal code",
        "zip code",
        "zipcode",
        "zip",
    ],
    postcode_digits: &[5, 9],
    fillers: &["is", "its", "my", "your", "the", "was"],
    measures: &[
        "minute*", "hour*", "day*", "week*", "month*", "year*", "time*", "dollar*", "pound*",
        "euro*", "percent", "pm", "am", "oclock",
    ],
    other_numbers: &[
        "order",
        "case",
        "reference",
        "ref",
        "ticket",
        "invoice",
        "claim",
        "booking",
        "tracking",
        "account",
        "number",
        "no",
        "room",
        "flight",
        "bus",
        "route",
        "line",
        "platform",
        "gate",
        "page",
        "chapter",
        "version",
        "item",
        "policy",
        "member",
        "id",
        "code",
        "pin",
        "extension",
    ],
    counted: &[],
    // A bare "you" is no cue: "You can pick it up at 10 Main Street" gives the company's
    // address to the customer (review of the first version: twelve false findings like it).
    customer: &[
        "your address",
        "your home",
        "your house",
        "your flat",
        "your apartment",
        "your postcode",
        "your zip code",
        "you live",
        "you live at",
        "have you at",
        "on file",
        "registered",
        "delivery address",
        "billing address",
        "home address",
        "mailing address",
        "shipping address",
    ],
    company: &[
        // Not "we": "we have your address as …" reads the customer's.
        "our",
        "ours",
        "pick it up",
        "pick up",
        "pickup",
        "collect",
        "come to",
        "go to",
        "visit",
        "nearest",
        "branch*",
        "office*",
        "store*",
        "shop",
        "shops",
        "headquarters",
        "hq",
        "outlet*",
        "showroom*",
        "service center",
        "service centre",
    ],
};

/// English street words that need a capital to count ("Close", "Way", "Place" …): lower case
/// they are ordinary words.
const ENGLISH_PLAIN_MARKERS: &[&str] = &[
    "street",
    "st",
    "road",
    "rd",
    "avenue",
    "ave",
    "lane",
    "ln",
    "boulevard",
    "blvd",
    "highway",
    "hwy",
    "parkway",
    "pkwy",
];

/// Words before a number that make it a count, a price or a phone number, not a house
/// number: "There were 2 Oak Street robberies", "I have 3 Wall Street Journal subscriptions",
/// "Call 911".
const ENGLISH_NOT_BEFORE_HOUSE: &[&str] = &[
    "the",
    "a",
    "an",
    "there",
    "were",
    "have",
    "has",
    "had",
    "got",
    "those",
    "these",
    "all",
    "some",
    "many",
    "few",
    "over",
    "under",
    "about",
    "around",
    "approximately",
    "only",
    "just",
    "than",
    "call",
    "dial",
    "press",
    "paid",
    "pay",
    "cost",
    "costs",
    "spent",
];

/// Street words clear enough to take a lower-case name ("42 baker street"); not "close",
/// "way", "place", which are ordinary words.
const ENGLISH_CLEAR_MARKERS: &[&str] = &["street", "road", "avenue", "lane"];

/// Words that are no part of a lower-case street name ("I have 42 on the street").
const ENGLISH_NOT_IN_NAME: &[&str] = &[
    "the", "a", "an", "on", "in", "at", "of", "to", "for", "from", "and", "or", "my", "your",
    "our", "his", "her", "their", "this", "that", "is", "are", "was", "were", "be", "by", "with",
    "same", "next", "other", "one", "each", "every",
];

/// Words that may follow an address read back after "have" or "got": "I have 42 Baker Street,
/// flat 3", "We've got 42 Baker Street on file for you".
const ENGLISH_AFTER_ADDRESS: &[&str] = &[
    "on",
    "for",
    "in",
    "at",
    "as",
    "is",
    "and",
    "or",
    "but",
    "right",
    "correct",
    "still",
    "yes",
    "please",
    "thanks",
    "thank",
    "then",
    "so",
    "which",
    "that",
    "with",
    "from",
    "to",
    "here",
    "there",
    "now",
    "listed",
    "registered",
    "saved",
    "recorded",
    "down",
    "was",
];

/// Words after which a four-digit number is a year ("in 2019 Main Street was closed").
const ENGLISH_YEAR_WORDS: &[&str] = &[
    "in", "since", "of", "from", "until", "till", "by", "before", "after", "during", "around",
];

const US_STATES: &[&str] = &[
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS",
    "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY",
    "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV",
    "WI", "WY", "DC",
];

/// State abbreviations that are also words or common codes: outside a street address they do
/// not make the number after them a ZIP ("OK 12345", "ID 12345").
const US_STATES_AMBIGUOUS: &[&str] = &["IN", "OR", "ME", "HI", "OK", "OH", "ID", "DE"];

const US_STATE_NAMES: &[&str] = &[
    "alabama",
    "alaska",
    "arizona",
    "arkansas",
    "california",
    "colorado",
    "connecticut",
    "delaware",
    "florida",
    "georgia",
    "hawaii",
    "idaho",
    "illinois",
    "indiana",
    "iowa",
    "kansas",
    "kentucky",
    "louisiana",
    "maine",
    "maryland",
    "massachusetts",
    "michigan",
    "minnesota",
    "mississippi",
    "missouri",
    "montana",
    "nebraska",
    "nevada",
    "new hampshire",
    "new jersey",
    "new mexico",
    "new york",
    "north carolina",
    "north dakota",
    "ohio",
    "oklahoma",
    "oregon",
    "pennsylvania",
    "rhode island",
    "south carolina",
    "south dakota",
    "tennessee",
    "texas",
    "utah",
    "vermont",
    "virginia",
    "washington",
    "west virginia",
    "wisconsin",
    "wyoming",
];

const SPANISH: Words = Words {
    markers: &[
        "calle",
        "avenida",
        "avda",
        "av",
        "plaza",
        "pza",
        "paseo",
        "camino",
        "carretera",
        "ctra",
        "ronda",
        "travesia",
        "glorieta",
        "pasaje",
        "callejon",
        "urbanizacion",
        "urb",
        "bulevar",
        "c",
    ],
    house: &["numero", "num", "nro", "no", "n o", "n"],
    units: &[
        "piso",
        "planta",
        "puerta",
        "pta",
        "escalera",
        "esc",
        "portal",
        "bloque",
        "bl",
        "letra",
        "apartamento",
        "apto",
        "departamento",
        "depto",
        "dpto",
        "local",
    ],
    abbreviations: &[
        "avda", "av", "pza", "ctra", "urb", "c", "n", "no", "num", "nro", "esc", "pta", "izq",
        "izda", "dcha", "bl", "apto", "depto", "dpto", "cp", "p",
    ],
    postcode: &["codigo postal", "cp", "c p"],
    postcode_digits: &[5],
    fillers: &["es", "su", "mi", "el"],
    measures: &[
        "minuto*",
        "hora*",
        "dia",
        "dias",
        "semana*",
        "mes",
        "meses",
        "ano",
        "anos",
        "vez",
        "veces",
        "euro*",
        "peso*",
        "dolar*",
        "por ciento",
        "km",
        "kilometro*",
        "metro*",
        "de enero",
        "de febrero",
        "de marzo",
        "de abril",
        "de mayo",
        "de junio",
        "de julio",
        "de agosto",
        "de septiembre",
        "de setiembre",
        "de octubre",
        "de noviembre",
        "de diciembre",
        "de la manana",
        "de la tarde",
        "de la noche",
        "de la madrugada",
        "en punto",
        "y media",
        "y cuarto",
    ],
    other_numbers: SPANISH_OTHER_NUMBERS,
    counted: &[
        "tienda*",
        "ano",
        "anos",
        "persona*",
        "euro*",
        "local",
        "locales",
        "edificio*",
        "vivienda*",
        "casas",
        "coche*",
        "metro*",
        "kilometro*",
        "km",
        "vecino*",
        "familia*",
        "restaurante*",
        "bares",
        "oficina*",
        "sucursal*",
        "comercio*",
        "negocio*",
        "farmacia*",
        "bancos",
        "cliente*",
        "paquetes",
        "pisos",
        "portales",
        "plantas",
        "habitaciones",
    ],
    customer: &[
        "su direccion",
        "su domicilio",
        "su casa",
        "su vivienda",
        "su codigo postal",
        "usted vive",
        "registrad*",
        "domicilio",
        "direccion de envio",
        "direccion de entrega",
        "vive",
        "reside",
    ],
    company: &[
        "nuestr*",
        "oficina*",
        "sucursal*",
        "tienda*",
        "sede",
        "agencia*",
        "delegacion*",
        "punto de atencion",
        "punto de recogida",
        "recoger*",
        "recogerlo",
        "recogerla",
        "acercarse",
        "acudir",
        "cita",
        "mas cercan*",
        "estamos",
    ],
};

/// Floors and sides after a Spanish house number: "tercero B", "bajo izquierda", "ático".
const SPANISH_FLOORS: &[&str] = &[
    "primero",
    "primera",
    "segundo",
    "segunda",
    "tercero",
    "tercera",
    "cuarto",
    "cuarta",
    "quinto",
    "quinta",
    "sexto",
    "sexta",
    "septimo",
    "septima",
    "octavo",
    "octava",
    "noveno",
    "novena",
    "decimo",
    "decima",
    "bajo",
    "bajos",
    "atico",
    "entresuelo",
    "principal",
    "izquierda",
    "izq",
    "izda",
    "derecha",
    "dcha",
    "centro",
    "interior",
    "exterior",
];

/// Particles inside Spanish street names: "avenida de la Constitución", "calle del Pez".
const SPANISH_PARTICLES: &[&str] = &[
    "de", "del", "la", "las", "los", "el", "y", "san", "santa", "sant",
];

const RUSSIAN: Words = Words {
    markers: &[
        "улиц*",
        "ул",
        "проспект*",
        "просп",
        "пр т",
        "переул*",
        "пер",
        "шоссе",
        "бульвар*",
        "б р",
        "площад*",
        "пл",
        "набережн*",
        "наб",
        "проезд*",
        "тупик*",
        "аллея",
        "аллее",
        "аллею",
        "мкр",
        "микрорайон*",
    ],
    house: &["дом", "доме", "д"],
    units: &[
        "корпус*",
        "корп",
        "к",
        "строени*",
        "стр",
        "квартир*",
        "кв",
        "подъезд*",
        "этаж*",
        "эт",
        "литер*",
    ],
    abbreviations: &[
        "ул",
        "просп",
        "пр",
        "т",
        "пер",
        "пл",
        "наб",
        "мкр",
        "д",
        "корп",
        "к",
        "стр",
        "кв",
        "эт",
        "г",
        "гор",
        "обл",
    ],
    postcode: &["почтов* индекс*", "индекс*"],
    postcode_digits: &[6],
    fillers: &["мой", "ваш", "это"],
    measures: &[
        "лет",
        "год*",
        "минут*",
        "час*",
        "дн*",
        "недел*",
        "месяц*",
        "раз",
        "раза",
        "рубл*",
        "руб",
        "процент*",
        "евро",
        "доллар*",
        "числ*",
        "января",
        "февраля",
        "марта",
        "апреля",
        "мая",
        "июня",
        "июля",
        "августа",
        "сентября",
        "октября",
        "ноября",
        "декабря",
        "тысяч*",
        "штук*",
        "человек*",
        "метр*",
        "км",
        "утра",
        "вечера",
        "ночи",
    ],
    other_numbers: &["заказ*", "заявк*", "обращени*", "накладн*", "номер*"],
    counted: &[
        "магазин*",
        "человек*",
        "людей",
        "домов",
        "квартир",
        "семей",
        "семьи",
        "машин*",
        "офис*",
        "здани*",
        "аптек*",
        "банк*",
        "кафе",
        "ресторан*",
        "метр*",
        "километр*",
        "км",
        "шаг*",
        "штук*",
        "посылк*",
        "клиент*",
        "сосед*",
        "этажей",
        "подъездов",
    ],
    customer: &[
        // Not "вашей квартиры": "Общая площадь 45 кв. м у вашей квартиры?" is a floor area.
        "ваш* адрес*",
        "у вас адрес",
        "адрес у вас",
        "зарегистрирован*",
        "прописан*",
        "проживает*",
        "живете",
        "адрес доставки",
        "адрес регистрации",
    ],
    company: &[
        "наш*",
        "офис*",
        "отделени*",
        "филиал*",
        "магазин*",
        "пункт* выдачи",
        "пункт*",
        "подойти",
        "подойдите",
        "приходите",
        "забрать",
        "ближайш*",
        "представительств*",
        "банкомат*",
    ],
};

/// Words before a Russian city: "г. Москва", "город Казань".
const RUSSIAN_CITY: &[&str] = &["г", "город", "гор"];

const POLISH: Words = Words {
    markers: &[
        "ulic*", "ul", "alej*", "alei", "al", "plac", "placu", "placem", "pl", "osiedl*", "os",
        "rondo", "rondzie", "skwer*", "bulwar*",
    ],
    house: &["nr", "numer"],
    units: &[
        "m",
        "mieszkani*",
        "mieszk",
        "lok",
        "lokal",
        "lokalu",
        "apartament*",
    ],
    abbreviations: &["ul", "al", "pl", "os", "m", "nr", "lok", "mieszk"],
    postcode: &["kod* pocztow*"],
    postcode_digits: &[5],
    fillers: &["to", "jest", "moj", "pana", "pani"],
    measures: &[
        "lat",
        "lata",
        "roku",
        "rok*",
        "minut*",
        "godzin*",
        "dni",
        "dzien*",
        "tygod*",
        "miesi*",
        "raz",
        "razy",
        "zl",
        "zlotych",
        "zloty",
        "euro",
        "procent*",
        "stycznia",
        "lutego",
        "marca",
        "kwietnia",
        "maja",
        "czerwca",
        "lipca",
        "sierpnia",
        "wrzesnia",
        "pazdziernika",
        "listopada",
        "grudnia",
        "rano",
        "wieczor*",
        "po poludniu",
    ],
    other_numbers: POLISH_OTHER_NUMBERS,
    counted: &[
        "sklep*",
        "lat",
        "osob*",
        "ludzi",
        "zlot*",
        "zl",
        "euro",
        "domy",
        "domow",
        "mieszkan*",
        "budyn*",
        "rodzin*",
        "metr*",
        "kilometr*",
        "km",
        "samochod*",
        "biur*",
        "aptek*",
        "restaurac*",
        "kawiarn*",
        "paczk*",
        "klient*",
        "sasiad*",
        "pieter",
        "pietra",
    ],
    customer: &[
        "pana adres",
        "pani adres",
        "panstwa adres",
        "wasz adres",
        "adres pana",
        "adres pani",
        "adres panstwa",
        "pan mieszka",
        "pani mieszka",
        "mieszka pan",
        "mieszka pani",
        "zameldowan*",
        "zarejestrowan*",
        "adres zamieszkania",
        "adres korespondencyjny",
        "adres do korespondencji",
        "adres dostawy",
    ],
    company: &[
        "nasz*",
        "oddzial*",
        "placowk*",
        "biur*",
        "siedzib*",
        "sklep*",
        "filia",
        "filii",
        "punkt*",
        "punkc*",
        "paczkomat*",
        "odebrac",
        "odbior*",
        "najblizsz*",
    ],
};

/// Chinese phrases are written one character per word, as the tokenizer splits them.
const CHINESE: Words = Words {
    markers: &[],
    house: &[],
    units: &[],
    abbreviations: &[],
    postcode: &["邮 编", "邮 政 编 码"],
    postcode_digits: &[6],
    fillers: &["是", "为"],
    measures: &[],
    other_numbers: &[],
    counted: &[],
    customer: &[
        "您 的 地 址",
        "你 的 地 址",
        "您 的 住 址",
        "你 的 住 址",
        "您 家",
        "你 家",
        "您 住",
        "你 住",
        "您 登 记",
        "您 预 留",
        "您 留",
        "您 填",
        "收 货",
        "住 址",
        "户 籍",
    ],
    company: &[
        "我 行",
        "本 行",
        "我 司",
        "本 公 司",
        "营 业 厅",
        "网 点",
        "分 行",
        "支 行",
        "门 店",
        "公 司",
        "总 部",
        "办 公",
        "柜 台",
        "自 提",
        "领 取",
        "服 务 中 心",
    ],
};

/// Street suffixes: 建国路, 长安街, 南锣鼓巷, 1234弄; 胡同 is matched by its second character.
const CHINESE_STREETS: &[&str] = &["路", "街", "道", "巷", "弄"];
/// The last characters of Chinese streets (胡同 included) and estates.
const CHINESE_LAST_CHARACTERS: &[&str] = &[
    "路", "街", "道", "巷", "弄", "同", "区", "园", "寓", "厦", "村", "苑",
];
/// Administrative units before a street: 北京市朝阳区, 广东省深圳市南山区, 建外街道.
const CHINESE_ADMIN: &[&str] = &["省", "市", "区", "县", "镇", "乡", "州", "旗"];
/// Housing estates, whose building numbers make an address without a street: 阳光小区5号楼.
const CHINESE_ESTATES: &[&str] = &["小 区", "花 园", "公 寓", "大 厦", "家 园", "新 村", "苑"];
/// Building parts after a number: 3号楼2单元501室.
const CHINESE_PARTS: &[&str] = &[
    "号 楼", "号 院", "栋", "幢", "座", "单 元", "层", "楼", "室", "号", "户",
];
/// Words that end in a street character without being a street: 知道, 频道, 一路, 马路, 逛街.
const CHINESE_NOT_STREETS: &[&str] = &[
    "知道", "频道", "渠道", "味道", "难道", "通道", "轨道", "跑道", "赛道", "车道", "报道", "管道",
    "隧道", "航道", "水道", "说道", "打道", "一道", "这道", "那道", "人道", "地道", "顺道", "一路",
    "线路", "电路", "网路", "思路", "走路", "出路", "马路", "上路", "半路", "带路", "迷路", "问路",
    "让路", "套路", "道路", "销路", "退路", "来路", "去路", "逛街", "上街", "满街", "沿街", "玩弄",
    "摆弄", "捉弄", "搞弄",
];
/// Characters that end a place name going backwards (verbs, pronouns, particles): the name of
/// 建国路 in 我家住在建国路 starts after 在.
const CHINESE_STOPS: &str = "在住到是的于为往从去来我你您他她它们了和与及或就都也还要会能可以请把被给对向这那哪么吗呢吧啊呀很太说问看想址家处近边旁附离寄送搬地知不没有个号";
/// Characters after 号 that make it a line, a window, a code, a gate …: 一号线, 3号窗口, 号码,
/// 中山路3号门.
const CHINESE_NOT_AFTER_HAO: &str = "线码窗机台位口车票键卡船床门";

const PERSIAN: Words = Words {
    markers: &[
        "خیابان",
        "خیابون",
        "کوچه",
        "بلوار",
        "میدان",
        "میدون",
        "بن بست",
        "بنبست",
        "کوی",
        "بزرگراه",
        "اتوبان",
    ],
    house: &["پلاک", "واحد", "طبقه"],
    units: &[],
    abbreviations: &[],
    postcode: &["کد پستی", "کدپستی"],
    postcode_digits: &[10],
    fillers: &["من", "شما", "ام"],
    measures: &[],
    other_numbers: &[],
    counted: &[],
    customer: &[
        "ادرس شما",
        "نشانی شما",
        "کد پستی شما",
        "منزل شما",
        "خانه شما",
        "ثبت شده",
        "محل سکونت",
    ],
    company: &[
        "ادرس ما",
        "شعبه",
        "شعب*",
        "دفتر*",
        "نمایندگی*",
        "فروشگاه*",
        "اداره*",
        "مرکز",
        "بانک",
        "مراجعه",
        "نزدیک*",
    ],
};

/// Cities that may open a Persian address: "تهران، خیابان ولیعصر، …".
const PERSIAN_CITIES: &[&str] = &[
    "تهران",
    "مشهد",
    "اصفهان",
    "شیراز",
    "تبریز",
    "کرج",
    "قم",
    "اهواز",
    "کرمانشاه",
    "رشت",
    "ارومیه",
    "یزد",
    "کرمان",
    "همدان",
    "اردبیل",
    "زنجان",
    "اراک",
    "ساری",
    "گرگان",
    "قزوین",
    "بندرعباس",
    "بندر عباس",
];
/// "شهر X", "استان X".
const PERSIAN_CITY_WORDS: &[&str] = &["شهر", "استان"];
/// Ordinal floors: "طبقه سوم", "همکف".
const PERSIAN_ORDINALS: &[&str] = &[
    "اول",
    "دوم",
    "سوم",
    "چهارم",
    "پنجم",
    "ششم",
    "هفتم",
    "هشتم",
    "نهم",
    "دهم",
    "همکف",
    "زیرزمین",
];
/// Words that end a Persian street name: verbs, pronouns, particles.
const PERSIAN_STOPS: &[&str] = &[
    "است",
    "هست",
    "هستش",
    "هستم",
    "هستیم",
    "هستند",
    "هستید",
    "بود",
    "بودم",
    "را",
    "رو",
    "به",
    "در",
    "که",
    "و",
    "از",
    "با",
    "برای",
    "این",
    "ان",
    "اون",
    "یک",
    "من",
    "شما",
    "ما",
    "تو",
    "او",
    "هم",
    "نه",
    "بله",
    "اره",
    "می",
    "نمی",
    "شد",
    "شده",
    "کنید",
    "کنم",
    "بفرمایید",
    "لطفا",
    "ممنون",
    "اونجا",
    "انجا",
    "نزدیک",
    "کنار",
];

/// Words ending in "تان"/"تون" that are no possessive: provinces, countries, seasons …
const PERSIAN_NOT_POSSESSIVE: &[&str] = &[
    "استان",
    "شهرستان",
    "بیمارستان",
    "دبستان",
    "دبیرستان",
    "گلستان",
    "کردستان",
    "لرستان",
    "خوزستان",
    "سیستان",
    "بلوچستان",
    "کوهستان",
    "زمستان",
    "تابستان",
    "داستان",
    "دوستان",
    "باستان",
    "بوستان",
    "ترکمنستان",
    "افغانستان",
    "پاکستان",
    "عربستان",
    "انگلستان",
    "ارمنستان",
    "تاجیکستان",
    "ازبکستان",
    "قزاقستان",
    "مجارستان",
    "لهستان",
    "هندوستان",
    "خاتون",
    "زیتون",
];

fn words(language: Language) -> Option<&'static Words> {
    match language {
        Language::English => Some(&ENGLISH),
        Language::Spanish => Some(&SPANISH),
        Language::Russian => Some(&RUSSIAN),
        Language::Polish => Some(&POLISH),
        Language::Chinese => Some(&CHINESE),
        Language::Persian => Some(&PERSIAN),
        Language::Other => None,
    }
}

/// The words that can start an address or a postcode, per language: most texts hold none, and
/// the detector stops there.
struct Triggers {
    exact: HashSet<&'static str>,
    prefixes: Vec<&'static str>,
}

impl Triggers {
    fn matches(&self, word: &str) -> bool {
        self.exact.contains(word) || self.prefixes.iter().any(|prefix| word.starts_with(prefix))
    }
}

fn triggers(language: Language) -> Option<&'static Triggers> {
    static CACHE: OnceLock<Vec<(Language, Triggers)>> = OnceLock::new();
    let all = CACHE.get_or_init(|| {
        [
            Language::English,
            Language::Spanish,
            Language::Russian,
            Language::Polish,
            Language::Chinese,
            Language::Persian,
        ]
        .into_iter()
        .filter_map(|language| {
            let words = words(language)?;
            let mut triggers = Triggers {
                exact: HashSet::new(),
                prefixes: Vec::new(),
            };
            // Chinese streets and estates are found by their last character.
            let chinese: &[&'static str] = if language == Language::Chinese {
                CHINESE_LAST_CHARACTERS
            } else {
                &[]
            };
            for phrase in words.markers.iter().chain(words.postcode).chain(chinese) {
                // The first word of a phrase is enough to look further.
                let first = phrase.split(' ').next().unwrap_or_default();
                match first.strip_suffix('*') {
                    Some(prefix) => triggers.prefixes.push(prefix),
                    None => {
                        triggers.exact.insert(first);
                    }
                }
            }
            Some((language, triggers))
        })
        .collect()
    });
    all.iter()
        .find(|(cached, _)| *cached == language)
        .map(|(_, triggers)| triggers)
}

/// `word` matches a table entry: equal, or starting with the entry less its `*`.
fn word_matches(word: &str, pattern: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => word.starts_with(prefix),
        None => word == pattern,
    }
}

/// Digits, with at most one letter after them ("42", "42a", "5б", "3o" from "3º").
fn is_written_number(word: &str, max_digits: usize) -> bool {
    let digits = word.bytes().take_while(u8::is_ascii_digit).count();
    let mut rest = word[digits..].chars();
    (1..=max_digits).contains(&digits)
        && match (rest.next(), rest.next()) {
            (None, _) => true,
            (Some(letter), None) => letter.is_alphabetic(),
            _ => false,
        }
}

fn is_digits(word: &str, count: usize) -> bool {
    word.len() == count && word.bytes().all(|byte| byte.is_ascii_digit())
}

/// A UK postcode at the start of a text: outward code, optional space, inward code (whose
/// letters are never C I K M O V).
fn uk_postcode_regex() -> &'static Regex {
    static REGEX: OnceLock<Regex> = OnceLock::new();
    REGEX.get_or_init(|| {
        Regex::new(r"^(?:[A-Z]{1,2}[0-9][A-Z0-9]?|GIR) ?[0-9][ABD-HJLNP-UW-Z]{2}\b")
            .expect("constant regex compiles")
    })
}

/// UK postcodes anywhere: both halves, with the space Whisper writes between them.
fn uk_postcodes_regex() -> &'static Regex {
    static REGEX: OnceLock<Regex> = OnceLock::new();
    REGEX.get_or_init(|| {
        Regex::new(r"\b(?:[A-Z]{1,2}[0-9][A-Z0-9]?|GIR) [0-9][ABD-HJLNP-UW-Z]{2}\b")
            .expect("constant regex compiles")
    })
}

/// One text being searched, with its tokens and number reader.
struct Scan<'a> {
    text: &'a str,
    tokens: &'a [Token],
    reader: &'a Reader<'a>,
    words: &'static Words,
}

impl Scan<'_> {
    fn len(&self) -> usize {
        self.tokens.len()
    }

    /// The normalised word at `index` ("" past the end).
    fn word(&self, index: usize) -> &str {
        self.tokens
            .get(index)
            .map_or("", |token| token.text.as_str())
    }

    /// The word at `index` as written.
    fn original(&self, index: usize) -> &str {
        self.tokens
            .get(index)
            .and_then(|token| self.text.get(token.byte_range.clone()))
            .unwrap_or_default()
    }

    /// The text between `tokens[index - 1]` and `tokens[index]` ("" at either end).
    fn gap(&self, index: usize) -> &str {
        if index == 0 || index >= self.len() {
            return "";
        }
        self.text
            .get(self.tokens[index - 1].byte_range.end..self.tokens[index].byte_range.start)
            .unwrap_or_default()
    }

    fn is_capitalized(&self, index: usize) -> bool {
        self.original(index)
            .chars()
            .next()
            .is_some_and(char::is_uppercase)
    }

    fn is_alphabetic(&self, index: usize) -> bool {
        let word = self.word(index);
        !word.is_empty() && word.chars().all(char::is_alphabetic)
    }

    /// A capitalised word: part of a street's or city's name in the Latin and Cyrillic scripts.
    fn is_name(&self, index: usize) -> bool {
        index < self.len()
            && self.is_capitalized(index)
            && self.is_alphabetic(index)
            && !self.tokens[index].is_cjk
    }

    fn is(&self, index: usize, patterns: &[&str]) -> bool {
        let word = self.word(index);
        !word.is_empty() && patterns.iter().any(|pattern| word_matches(word, pattern))
    }

    /// Where the longest of `phrases` starting at `tokens[at]` ends; a phrase's words must be
    /// joined as an address's are (see [`Scan::joins`]).
    fn phrase_end(&self, at: usize, phrases: &[&str]) -> Option<usize> {
        let mut best: Option<usize> = None;
        for phrase in phrases {
            let mut position = at;
            let mut matched = true;
            for part in phrase.split(' ') {
                let joined = position == at || self.joins(position);
                if position < self.len() && joined && word_matches(self.word(position), part) {
                    position += 1;
                } else {
                    matched = false;
                    break;
                }
            }
            if matched && best.is_none_or(|best| position > best) {
                best = Some(position);
            }
        }
        best
    }

    /// Whether the text between `tokens[index - 1]` and `tokens[index]` keeps one address
    /// together: spaces and the punctuation of addresses, a '.' only after an abbreviation, a
    /// single letter or before a lower-case word or digit; never a line break or a sentence end.
    fn joins(&self, index: usize) -> bool {
        if index == 0 || index >= self.len() {
            return false;
        }
        let gap = self.gap(index);
        let mut dots = 0;
        for character in gap.chars() {
            match character {
                // One speaker's consecutive utterances: "Su dirección es calle Mayor" /
                // "número 12, tercero B." is one address.
                '\n' => {}
                '.' => dots += 1,
                ','
                | '\u{060C}'
                | '、'
                | '，'
                | '/'
                | '-'
                | '\u{2010}'..='\u{2013}'
                | ':'
                | '('
                | ')'
                | '"'
                | '«'
                | '»'
                | '“'
                | '”'
                | '\''
                | '#'
                | '№'
                | '\u{200C}' => {}
                character if character.is_whitespace() => {}
                _ => return false,
            }
        }
        if dots == 0 {
            return true;
        }
        if dots > 1 {
            return false;
        }
        let previous = self.word(index - 1);
        let next_starts_low = self
            .original(index)
            .chars()
            .next()
            .is_some_and(|character| character.is_lowercase() || character.is_ascii_digit());
        // "St. John", "ul. Długa", "n.º", "3.º": after an abbreviation or a single letter, or
        // with no space after it; a sentence goes on with a lower-case word.
        self.words.abbreviations.contains(&previous)
            || (previous.chars().count() == 1 && previous.chars().all(char::is_alphabetic))
            || gap == "."
            || next_starts_low
    }

    /// A house number starting at `tokens[at]`: written digits (with a letter: "42a"), or a
    /// number in words (not a weak one: "for", "un"). Returns where it ends.
    fn house_number(&self, at: usize, max_digits: usize) -> Option<usize> {
        let token = self.tokens.get(at)?;
        if !token.is_cjk && is_written_number(&token.text, max_digits) {
            return Some(at + 1);
        }
        let number = self.reader.parse(at)?;
        (!number.weak && number.digits.len() <= max_digits).then(|| at + number.n_tokens.max(1))
    }

    /// A house number ending right before `tokens[end]`: one written number, or number words
    /// ("forty two", "four two"). Returns where it starts.
    fn number_ending_at(&self, end: usize, max_digits: usize) -> Option<usize> {
        let last = end.checked_sub(1)?;
        if is_written_number(self.word(last), max_digits) {
            return Some(last);
        }
        // Number words: the earliest start whose expressions reach `end` exactly.
        for start in end.saturating_sub(6)..end {
            let mut position = start;
            let mut n_digits = 0;
            while position < end {
                let Some(number) = self.reader.parse(position) else {
                    break;
                };
                if number.weak || (position > start && !self.joins(position)) {
                    break;
                }
                n_digits += number.digits.len();
                position += number.n_tokens.max(1);
            }
            // A single spoken digit ("two Main Street accounts") is too weak a house number.
            if position == end
                && n_digits <= max_digits
                && (n_digits >= 2 || end - start >= 2)
                && !self.tokens[start].is_cjk
            {
                return Some(start);
            }
        }
        None
    }

    /// Whether the number at `tokens[start..end]` is something else than a house number: an
    /// amount ("$12"), a time or decimal ("10:30", "3.5"), a duration or date ("5 лет", "12 de
    /// mayo"), or the number of an order, a case, a route ("order 12345").
    fn claimed_number(&self, start: usize, end: usize) -> bool {
        let before = self.gap(start);
        if before.contains(['$', '£', '€', '¥', '₽', '%', '+']) {
            return true;
        }
        let glued =
            |gap: &str| !gap.is_empty() && gap.chars().all(|c| matches!(c, '.' | ',' | ':'));
        let digit_at = |index: usize| {
            self.word(index)
                .bytes()
                .next()
                .is_some_and(|byte| byte.is_ascii_digit())
        };
        if start > 0 && glued(before) && digit_at(start - 1) {
            return true;
        }
        if end < self.len() && glued(self.gap(end)) && digit_at(end) {
            return true;
        }
        if end < self.len() && self.phrase_end(end, self.words.measures).is_some() {
            return true;
        }
        if self.gap(end).starts_with('%') {
            return true;
        }
        (start.saturating_sub(3)..start).any(|index| self.is(index, self.words.other_numbers))
    }

    /// Whether a count noun ([`Words::counted`]) follows the number ending at `tokens[end]`:
    /// the number counts something ("calle Mayor 3 tiendas", "на улице Ленина 3 магазина", "na
    /// ulicy Długiej 3 sklepy"). Callers ask only when no house word came before the number.
    fn count_of_nouns(&self, end: usize, extra: &[&str]) -> bool {
        let Some(token) = self.tokens.get(end) else {
            return false;
        };
        self.gap(end).chars().all(char::is_whitespace)
            && !token.is_cjk
            && self.is_alphabetic(end)
            && !self.is_capitalized(end)
            && self.is(end, self.words.counted)
            && !self.is(end, self.words.units)
            && !self.is(end, self.words.house)
            && !self.is(end, extra)
            && self.original(end).chars().count() > 1
    }

    /// Digits at `tokens[at..]` read as one number, as the card and phone checks read them
    /// (separators between groups); returns where they end and how many digits they hold.
    fn number_run(&self, at: usize) -> Option<(usize, usize)> {
        let mut position = at;
        let mut n_digits = 0;
        while position < self.len() {
            if position > at && !self.gap(position).chars().all(is_number_separator) {
                break;
            }
            let word = self.word(position);
            if !word.is_empty() && word.bytes().all(|byte| byte.is_ascii_digit()) {
                n_digits += word.len();
                position += 1;
            } else if let Some(number) = self.reader.parse(position).filter(|number| !number.weak) {
                n_digits += number.digits.len();
                position += number.n_tokens.max(1);
            } else {
                break;
            }
        }
        (position > at).then_some((position.min(self.len()), n_digits))
    }

    /// The byte range of `tokens[range]`.
    fn bytes(&self, range: &Range<usize>) -> Option<Range<usize>> {
        let first = self.tokens.get(range.start)?;
        let last = self.tokens.get(range.end.checked_sub(1)?)?;
        (first.byte_range.start < last.byte_range.end)
            .then_some(first.byte_range.start..last.byte_range.end)
    }

    /// Flats, floors and doors after an address: `unit-word value`, repeated ("flat 3",
    /// "кв. 12", "m. 5", "piso 2, puerta 4"). Returns where they end.
    fn units_after(&self, mut end: usize, max_digits: usize) -> usize {
        loop {
            if !self.joins(end) {
                return end;
            }
            let Some(mut word_end) = self.phrase_end(end, self.words.units) else {
                return end;
            };
            if !self.joins(word_end) {
                return end;
            }
            // "квартира номер 12", "flat number 3".
            if self.is(word_end, &["номер", "number", "numero", "nr", "numer"])
                && self.joins(word_end + 1)
                && self.house_number(word_end + 1, max_digits).is_some()
            {
                word_end += 1;
            }
            match self.unit_value(word_end, max_digits) {
                Some(value_end) => end = value_end,
                None => return end,
            }
        }
    }

    /// The value of a unit: a number ("3", "4B", "doce") or a single letter ("B").
    fn unit_value(&self, at: usize, max_digits: usize) -> Option<usize> {
        if let Some(end) = self.house_number(at, max_digits) {
            return Some(end);
        }
        let original = self.original(at);
        (original.chars().count() == 1 && original.chars().all(char::is_alphabetic))
            .then_some(at + 1)
    }

    /// "10/5", "5/2", "5-12": the number after a slash or hyphen belongs to the house (not a
    /// third group: "5-12-34" is no flat).
    fn slash_number(&self, end: usize) -> usize {
        let gap = self.gap(end).trim();
        if end < self.len()
            && (gap == "/" || gap == "-")
            && is_written_number(self.word(end), 4)
            && !(end + 1 < self.len()
                && self.gap(end + 1).trim() == gap
                && is_written_number(self.word(end + 1), 4))
        {
            end + 1
        } else {
            end
        }
    }
}

/// Finds postal addresses and adds them to `spans` (see [`SpanSet::add_address`]): spans of
/// other kinds keep their place and label. A phone number that is in fact a postcode after its
/// keyword ("کد پستی ۱۲۳۴۵۶۷۸۹۰") becomes an address.
pub(super) fn find(
    text: &str,
    tokens: &[Token],
    reader: &Reader<'_>,
    language: Language,
    spans: &mut SpanSet,
) {
    let (Some(words), Some(triggers)) = (words(language), triggers(language)) else {
        return;
    };
    let english = language == Language::English;
    let triggered = tokens.iter().any(|token| triggers.matches(&token.text));
    // English postcodes and ZIPs need no street word.
    let english_codes = english
        && text.bytes().any(|byte| byte.is_ascii_digit())
        && text.bytes().any(|byte| byte.is_ascii_uppercase());
    if !triggered && !english_codes {
        return;
    }
    let scan = Scan {
        text,
        tokens,
        reader,
        words,
    };
    if triggered {
        postcodes_after_keywords(&scan, language, spans);
    }
    let mut found: Vec<Range<usize>> = Vec::new();
    match language {
        Language::English => {
            if triggered {
                english_streets(&scan, &mut found);
            }
            english_codes_alone(&scan, &mut found);
        }
        Language::Spanish => spanish_streets(&scan, &mut found),
        Language::Russian => russian_streets(&scan, &mut found),
        Language::Polish => polish_streets(&scan, &mut found),
        Language::Chinese => chinese_streets(&scan, &mut found),
        Language::Persian => persian_streets(&scan, &mut found),
        Language::Other => {}
    }
    for range in found {
        if let Some(bytes) = scan.bytes(&range) {
            house_and_postcode_as_address(text, &bytes, spans);
            spans.add_address(text, bytes);
        }
    }
}

/// A phone number inside a street address is its house number and postcode read together
/// ("calle Mayor número 12, 28013 Madrid": "12, 28013"): it becomes part of the address. Only a
/// short first group (the house or flat number, up to four digits) and ten digits in all: a
/// real phone number after an address is never inside its span.
fn house_and_postcode_as_address(text: &str, address: &Range<usize>, spans: &mut SpanSet) {
    for span in &mut spans.spans {
        if span.kind != super::PiiKind::Phone
            || span.byte_range.start < address.start
            || span.byte_range.end > address.end
        {
            continue;
        }
        let Some(piece) = text.get(span.byte_range.clone()) else {
            continue;
        };
        let groups: Vec<&str> = piece
            .split(|character: char| !character.is_ascii_digit())
            .filter(|group| !group.is_empty())
            .collect();
        let n_digits: usize = groups.iter().map(|group| group.len()).sum();
        if groups.len() >= 2 && groups[0].len() <= 4 && n_digits <= 10 {
            span.kind = super::PiiKind::Address;
            span.verified = false;
        }
    }
}

/// A postcode right after its keyword ("zip code 90210", "código postal 28013", "индекс
/// 123456", "kod pocztowy 00-590", "邮编100020", "کد پستی ۱۲۳۴۵۶۷۸۹۰"), in the country's
/// number of digits, or a UK postcode.
fn postcodes_after_keywords(scan: &Scan<'_>, language: Language, spans: &mut SpanSet) {
    for index in 0..scan.len() {
        let Some(mut position) = scan.phrase_end(index, scan.words.postcode) else {
            continue;
        };
        let mut skipped = 0;
        while skipped < 2 && scan.joins(position) && scan.is(position, scan.words.fillers) {
            position += 1;
            skipped += 1;
        }
        // Chinese writes the code right after the keyword: an empty gap joins too.
        if !scan.joins(position) {
            continue;
        }
        if language == Language::English
            && let Some(end) = uk_postcode_at(scan, position)
            && let Some(bytes) = scan.bytes(&(position..end))
        {
            spans.add_address(scan.text, bytes);
            continue;
        }
        let Some((end, n_digits)) = scan.number_run(position) else {
            continue;
        };
        if scan.words.postcode_digits.contains(&n_digits)
            && let Some(bytes) = scan.bytes(&(position..end))
        {
            spans.add_postcode(bytes);
        }
    }
}

/// Where a UK postcode starting at `tokens[at]` ends (token index past it).
fn uk_postcode_at(scan: &Scan<'_>, at: usize) -> Option<usize> {
    let start = scan.tokens.get(at)?.byte_range.start;
    let found = uk_postcode_regex().find(scan.text.get(start..)?)?;
    let end = start + found.end();
    (at..scan.len())
        .take(3)
        .find(|&index| scan.tokens[index].byte_range.end == end)
        .map(|index| index + 1)
}

/// A US state at `tokens[at]` (upper-case abbreviation or capitalised name), optionally with
/// a ZIP after it: where it ends, and whether a ZIP came.
fn us_state_at(scan: &Scan<'_>, at: usize, any_abbreviation: bool) -> Option<(usize, bool)> {
    let original = scan.original(at);
    let abbreviation = US_STATES.contains(&original)
        && (any_abbreviation || !US_STATES_AMBIGUOUS.contains(&original));
    let end = if abbreviation {
        at + 1
    } else if scan.is_capitalized(at) {
        scan.phrase_end(at, US_STATE_NAMES)?
    } else {
        return None;
    };
    if scan.joins(end) && is_digits(scan.word(end), 5) && !scan.claimed_number(end, end + 1) {
        let mut zip_end = end + 1;
        if scan.gap(zip_end) == "-" && is_digits(scan.word(zip_end), 4) {
            zip_end += 1;
        }
        return Some((zip_end, true));
    }
    Some((end, false))
}

/// "42 Baker Street", "Flat 3, 42 Baker St., London NW1 6XE", "1600 Pennsylvania Avenue,
/// Washington, DC 20500".
fn english_streets(scan: &Scan<'_>, found: &mut Vec<Range<usize>>) {
    for marker in 0..scan.len() {
        let plain = scan.is(marker, ENGLISH_PLAIN_MARKERS);
        if !scan.is(marker, scan.words.markers) || !(plain || scan.is_capitalized(marker)) {
            continue;
        }
        // The name: up to three capitalised words or ordinals ("5th") right before; lower-case
        // words only before a clear street word after written digits ("42 baker street").
        let lower_name = scan.is(marker, ENGLISH_CLEAR_MARKERS);
        let name_word = |index: usize| {
            scan.is_name(index)
                || is_ordinal(scan.word(index))
                || (lower_name
                    && scan.is_alphabetic(index)
                    && !scan.tokens[index].is_cjk
                    && scan.reader.parse(index).is_none()
                    && !scan.is(index, ENGLISH_NOT_IN_NAME))
        };
        let mut name_start = marker;
        while name_start > 0
            && marker - name_start < 3
            && scan.gap(name_start).chars().all(char::is_whitespace)
            && name_word(name_start - 1)
        {
            name_start -= 1;
        }
        // "42, Baker Street": a comma may stand after the number.
        let gap = scan.gap(name_start);
        if name_start == marker || !(gap.chars().all(char::is_whitespace) || gap.trim() == ",") {
            continue;
        }
        let lower = (name_start..marker).any(|index| !scan.is_capitalized(index));
        let Some(number_start) = scan.number_ending_at(name_start, 5) else {
            continue;
        };
        if (lower || gap.trim() == ",")
            && !(number_start + 1 == name_start && is_written_number(scan.word(number_start), 5))
        {
            continue;
        }
        // "number 10 Downing Street": "number" names the house's number, unless it follows
        // another number's noun ("order number 12345 Main Street").
        let number_word = number_start > 0 && scan.is(number_start - 1, &["number", "no"]);
        let claim_start = if number_word {
            number_start - 1
        } else {
            number_start
        };
        // "I have 42 Baker Street, flat 3": a read-back, unless a noun follows the street ("I
        // have 3 Wall Street Journal subscriptions").
        let read_back = claim_start > 0
            && scan.is(claim_start - 1, &["have", "got", "has", "had"])
            && !english_noun_after(scan, scan.units_after(marker + 1, 5));
        if scan.claimed_number(claim_start, name_start)
            || is_year(scan, number_start)
            || (claim_start > 0 && scan.is(claim_start - 1, ENGLISH_NOT_BEFORE_HOUSE) && !read_back)
        {
            continue;
        }
        let mut start = claim_start;
        // "Flat 3, 42 Baker Street".
        if start >= 2
            && scan.joins(start)
            && scan.is(start - 2, scan.words.units)
            && scan.joins(start - 1)
            && scan.unit_value(start - 1, 5) == Some(start)
        {
            start -= 2;
        }
        let mut end = scan.units_after(marker + 1, 5);
        if let Some(place_end) = english_place(scan, end) {
            end = place_end;
        }
        found.push(start..end);
    }
}

/// Whether a word that is not an address's follows an English street ending at `tokens[end]`
/// with only spaces between: a noun the street names ("2 Oak Street robberies", "3 Wall Street
/// Journal subscriptions").
fn english_noun_after(scan: &Scan<'_>, end: usize) -> bool {
    end < scan.len()
        && scan.gap(end).chars().all(char::is_whitespace)
        && scan.is_alphabetic(end)
        && !scan.is(end, ENGLISH_AFTER_ADDRESS)
}

/// "5th", "21st", "2nd": part of a name ("5th Avenue"), never a house number.
fn is_ordinal(word: &str) -> bool {
    let digits = word.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && matches!(&word[digits..], "st" | "nd" | "rd" | "th")
}

/// "in 2019 Main Street was closed": a year, not a house number.
fn is_year(scan: &Scan<'_>, number_start: usize) -> bool {
    let word = scan.word(number_start);
    is_digits(word, 4)
        && (word.starts_with("19") || word.starts_with("20"))
        && number_start > 0
        && scan.is(number_start - 1, ENGLISH_YEAR_WORDS)
}

/// After an English street: a city (up to three capitalised words) then a UK postcode or a US
/// state (with or without ZIP), or the postcode alone. Returns where it ends.
fn english_place(scan: &Scan<'_>, start: usize) -> Option<usize> {
    // The longest: "Washington, DC 20500" is a city, a state and a ZIP, not a state.
    let mut best = None;
    for city_words in 0..=3 {
        let at = start + city_words;
        if (city_words > 0 && !scan.is_name(at - 1)) || !scan.joins(at) {
            break;
        }
        let end =
            uk_postcode_at(scan, at).or_else(|| us_state_at(scan, at, true).map(|(end, _)| end));
        if let Some(end) = end {
            best = Some(best.map_or(end, |best: usize| best.max(end)));
        }
    }
    best
}

/// UK postcodes ("NW1 6XE") and US ZIPs after a state ("IL 62704", "California 90210") in an
/// English text, without a street.
fn english_codes_alone(scan: &Scan<'_>, found: &mut Vec<Range<usize>>) {
    for postcode in uk_postcodes_regex().find_iter(scan.text) {
        let first = scan
            .tokens
            .iter()
            .position(|token| token.byte_range.start == postcode.start());
        let last = scan
            .tokens
            .iter()
            .position(|token| token.byte_range.end == postcode.end());
        if let (Some(first), Some(last)) = (first, last)
            && first <= last
        {
            found.push(first..last + 1);
        }
    }
    // A ZIP after a state: look back from each five-digit number.
    for zip in 1..scan.len() {
        if !is_digits(scan.word(zip), 5) {
            continue;
        }
        for state in [zip.saturating_sub(2), zip - 1] {
            if let Some((end, true)) = us_state_at(scan, state, false)
                && end > zip
            {
                found.push(state..end);
                break;
            }
        }
    }
}

/// "calle Mayor, 12, 3.º B", "c/ Mayor nº 12", "avenida de la Constitución número doce, piso 2",
/// "el 12 de la calle Mayor", then "28013 Madrid".
fn spanish_streets(scan: &Scan<'_>, found: &mut Vec<Range<usize>>) {
    for marker in 0..scan.len() {
        if !scan.is(marker, scan.words.markers) {
            continue;
        }
        // "c/ Mayor", "av. de América": the short forms need their slash or dot.
        let short_gap = scan.gap(marker + 1);
        match scan.word(marker) {
            "c" if !short_gap.contains('/') => continue,
            "av" if !short_gap.contains('.') => continue,
            _ => {}
        }
        let Some(name_end) = latin_name_after(scan, marker + 1, SPANISH_PARTICLES, 6) else {
            continue;
        };
        let mut start = marker;
        // "el 12 de la calle Mayor", "el número 12 de la calle Mayor".
        let before =
            if marker >= 2 && scan.word(marker - 1) == "la" && scan.word(marker - 2) == "de" {
                Some(marker - 2)
            } else if marker >= 1 && scan.word(marker - 1) == "de" {
                Some(marker - 1)
            } else {
                None
            };
        let mut end = None;
        if let Some(de) = before
            && scan.joins(de)
            && let Some(number_start) = scan.number_ending_at(de, 4)
            && !scan.claimed_number(number_start, de)
        {
            start = number_start;
            if number_start >= 1 && scan.is(number_start - 1, &["numero", "num", "no", "nro"]) {
                start = number_start - 1;
            }
            end = Some(name_end);
        }
        if end.is_none() {
            let Some(number_end) = house_number_after(scan, name_end, SPANISH_FLOORS) else {
                continue;
            };
            end = Some(scan.slash_number(number_end));
        }
        let Some(end) = end else {
            continue;
        };
        found.push(start..spanish_details(scan, end));
    }
}

/// The house number right after a street's name at `name_end` (after a house word such as
/// "número", "nr" if one is there), where it ends: `None` when nothing joins it, it is another
/// number's, or (without a house word) a count of what follows ("calle Mayor 3 tiendas";
/// `not_counts` are words after it that are no count, such as Spanish floors).
fn house_number_after(scan: &Scan<'_>, name_end: usize, not_counts: &[&str]) -> Option<usize> {
    if !scan.joins(name_end) {
        return None;
    }
    let mut at = name_end;
    let mut house_word = false;
    if let Some(word_end) = scan.phrase_end(at, scan.words.house)
        && scan.joins(word_end)
    {
        at = word_end;
        house_word = true;
    }
    let number_end = scan.house_number(at, 4)?;
    let counted = !house_word && scan.count_of_nouns(number_end, not_counts);
    (!scan.claimed_number(at, number_end) && !counted).then_some(number_end)
}

/// A street name after a street word: capitalised words and particles ("de la", "del"), at most
/// `max_words` tokens, at least one capitalised; returns where it ends (particles at the end
/// are not part of it).
fn latin_name_after(
    scan: &Scan<'_>,
    start: usize,
    particles: &[&str],
    max_words: usize,
) -> Option<usize> {
    let mut end = start;
    let mut names = 0;
    while end < scan.len() && end - start < max_words && scan.joins(end) {
        if scan.is_name(end) {
            names += 1;
        } else if !scan.is(end, particles) || scan.tokens[end].is_cjk {
            break;
        }
        end += 1;
    }
    while end > start && !scan.is_name(end - 1) {
        end -= 1;
    }
    (names > 0 && end > start).then_some(end)
}

/// After a Spanish house number: floor, door, staircase ("3.º B", "tercero B", "piso 2,
/// puerta 4", "bajo izquierda"), then a postcode and city ("28013 Madrid").
fn spanish_details(scan: &Scan<'_>, mut end: usize) -> usize {
    let mut after_floor = false;
    loop {
        if !scan.joins(end) {
            return end;
        }
        let word = scan.word(end);
        // "3.º", "1.ª": a number and the ordinal mark, which NFKC makes "o"/"a".
        if is_written_number(word, 2)
            && word.bytes().all(|byte| byte.is_ascii_digit())
            && matches!(scan.word(end + 1), "o" | "a" | "er" | "era")
            && matches!(scan.gap(end + 1), "" | ".")
        {
            end += 2;
            after_floor = true;
            continue;
        }
        if is_written_number(word, 2) && (word.ends_with('o') || word.ends_with('a')) {
            end += 1;
            after_floor = true;
            continue;
        }
        if scan.is(end, SPANISH_FLOORS) {
            end += 1;
            after_floor = true;
            continue;
        }
        if let Some(word_end) = scan.phrase_end(end, scan.words.units)
            && scan.joins(word_end)
        {
            let value = scan
                .unit_value(word_end, 4)
                .or_else(|| scan.is(word_end, SPANISH_FLOORS).then_some(word_end + 1));
            if let Some(value_end) = value {
                // "3.º" after "piso".
                end = if matches!(scan.word(value_end), "o" | "a")
                    && matches!(scan.gap(value_end), "" | ".")
                {
                    value_end + 1
                } else {
                    value_end
                };
                after_floor = true;
                continue;
            }
        }
        // "tercero B", "3.º B": a door letter, capital, after a floor.
        let original = scan.original(end);
        if after_floor
            && original.chars().count() == 1
            && original
                .chars()
                .all(|character| character.is_ascii_uppercase())
        {
            end += 1;
            continue;
        }
        if let Some(postcode_end) = postcode_and_city(scan, end, 5) {
            return postcode_end;
        }
        return end;
    }
}

/// A postcode of `n_digits` digits (or "NN-NNN" for Polish, given 5) at `tokens[at]` with up to
/// two capitalised words of a city after it; where it ends.
fn postcode_and_city(scan: &Scan<'_>, at: usize, n_digits: usize) -> Option<usize> {
    if !scan.joins(at) {
        return None;
    }
    let mut end = if is_digits(scan.word(at), n_digits) {
        at + 1
    } else if n_digits == 5
        && is_digits(scan.word(at), 2)
        && scan.gap(at + 1) == "-"
        && is_digits(scan.word(at + 1), 3)
    {
        at + 2
    } else if let Some(keyword_end) = scan.phrase_end(at, scan.words.postcode)
        && scan.joins(keyword_end)
        && let Some((number_end, digits)) = scan.number_run(keyword_end)
        && digits == n_digits
    {
        number_end
    } else {
        return None;
    };
    if scan.claimed_number(at, end) {
        return None;
    }
    for _ in 0..2 {
        if scan.joins(end) && scan.is_name(end) {
            end += 1;
        }
    }
    Some(end)
}

/// "ул. Ленина, д. 5, кв. 12", "улица Ленина, дом пять", "Невский проспект, 28", "123456, г.
/// Москва, ул. Тверская, д. 1".
fn russian_streets(scan: &Scan<'_>, found: &mut Vec<Range<usize>>) {
    for marker in 0..scan.len() {
        let Some(marker_end) = scan.phrase_end(marker, scan.words.markers) else {
            continue;
        };
        // "пр-т", "б-р" need their hyphen; "пр т" is no street.
        if marker_end - marker == 2 && !scan.gap(marker + 1).contains('-') {
            continue;
        }
        let mut start = marker;
        let mut name_end = marker_end;
        while name_end < scan.len()
            && name_end - marker_end < 3
            && scan.joins(name_end)
            && scan.is_name(name_end)
        {
            name_end += 1;
        }
        if name_end == marker_end {
            // The name before the street word: "Невский проспект", "на Тверской улице".
            while start > 0
                && marker - start < 2
                && scan.gap(start).chars().all(char::is_whitespace)
                && scan.is_name(start - 1)
            {
                start -= 1;
            }
            if start == marker {
                continue;
            }
        }
        let at = name_end;
        if !scan.joins(at) {
            continue;
        }
        let number_end = match scan.phrase_end(at, scan.words.house) {
            // After "дом" a number in words counts too, and "номер" may come first ("дом
            // номер 5"); a count noun after it is no veto ("дом 5 всё верно?").
            Some(word_end) if scan.joins(word_end) => {
                let (number_at, claim_start) =
                    if scan.word(word_end) == "номер" && scan.joins(word_end + 1) {
                        (word_end + 1, at)
                    } else {
                        (word_end, word_end)
                    };
                scan.house_number(number_at, 4).filter(|&end| {
                    !scan.claimed_number(claim_start, end) && !russian_area_unit(scan, end)
                })
            }
            Some(_) => None,
            None => is_written_number(scan.word(at), 4)
                .then_some(at + 1)
                .filter(|&end| {
                    !scan.claimed_number(at, end)
                        && !scan.count_of_nouns(end, &[])
                        && !russian_area_unit(scan, end)
                }),
        };
        let Some(number_end) = number_end else {
            continue;
        };
        let mut end = scan.units_after(scan.slash_number(number_end), 4);
        if let Some(postcode_end) = postcode_and_city(scan, end, 6) {
            end = postcode_end;
        }
        // A city and postcode before: "123456, г. Москва, ул. …".
        if start >= 2
            && scan.joins(start)
            && scan.is_name(start - 1)
            && scan.is(start - 2, RUSSIAN_CITY)
            && scan.joins(start - 1)
        {
            start -= 2;
            if start >= 1 && scan.joins(start) && is_digits(scan.word(start - 1), 6) {
                start -= 1;
            }
        }
        found.push(start..end);
    }
}

/// A unit of area right after a number ending at `tokens[end]`: "30 м²", "45 кв. м", "50
/// квадратных метров" ("Жилая площадь 30 м²" is a floor area, not a square).
fn russian_area_unit(scan: &Scan<'_>, end: usize) -> bool {
    if end >= scan.len() || !scan.gap(end).chars().all(char::is_whitespace) {
        return false;
    }
    let metres = |index: usize| scan.is(index, &["м", "м2", "метр*", "квадратн*", "кв2"]);
    metres(end) || (scan.word(end) == "кв" && scan.joins(end + 1) && metres(end + 1))
}

/// "ul. Marszałkowska 10 m. 5, 00-590 Warszawa", "al. Jana Pawła II 15/3", "przy ulicy Długiej
/// dziesięć, mieszkanie pięć".
fn polish_streets(scan: &Scan<'_>, found: &mut Vec<Range<usize>>) {
    for marker in 0..scan.len() {
        if !scan.is(marker, scan.words.markers) {
            continue;
        }
        // "ul", "al", "pl", "os" are words of their own, not the end of "bank.pl".
        if marker > 0 {
            let gap = scan.gap(marker);
            if gap.ends_with(['.', '@']) || gap.is_empty() {
                continue;
            }
        }
        let Some(name_end) = latin_name_after(scan, marker + 1, &[], 4) else {
            continue;
        };
        let Some(number_end) = house_number_after(scan, name_end, &[]) else {
            continue;
        };
        let mut end = scan.units_after(scan.slash_number(number_end), 4);
        if let Some(postcode_end) = postcode_and_city(scan, end, 5) {
            end = postcode_end;
        }
        found.push(marker..end);
    }
}

fn is_chinese_char(scan: &Scan<'_>, index: usize, set: &str) -> bool {
    index < scan.len() && scan.tokens[index].is_cjk && set.contains(scan.word(index))
}

/// Whether only spaces (or nothing) stand between `tokens[index - 1]` and `tokens[index]`.
fn no_punctuation_before(scan: &Scan<'_>, index: usize) -> bool {
    scan.gap(index).chars().all(char::is_whitespace)
}

/// Where a Chinese place name ending right before `tokens[end]` starts: CJK characters, none a
/// stop character ([`CHINESE_STOPS`]) nor an administrative unit, at most `max_chars`.
fn chinese_name_start(scan: &Scan<'_>, end: usize, max_chars: usize) -> usize {
    let mut start = end;
    // Never across punctuation: "您好，人民路12号" names 人民路, not 好人民路.
    while start > 0
        && end - start < max_chars
        && no_punctuation_before(scan, start)
        && scan.tokens[start - 1].is_cjk
        && !is_chinese_char(scan, start - 1, CHINESE_STOPS)
        && chinese_admin_len(scan, start) == 0
    {
        start -= 1;
    }
    start
}

/// How many characters an administrative unit ending right before `tokens[end]` has: 1 for
/// 省 市 区 …, 2 for 街道, 0 for none.
fn chinese_admin_len(scan: &Scan<'_>, end: usize) -> usize {
    if end >= 2 && scan.word(end - 2) == "街" && scan.word(end - 1) == "道" {
        return 2;
    }
    if end >= 1 && scan.tokens[end - 1].is_cjk && scan.is(end - 1, CHINESE_ADMIN) {
        // "小区" is an estate, not a district.
        if scan.word(end - 1) == "区" && end >= 2 && scan.word(end - 2) == "小" {
            return 0;
        }
        return 1;
    }
    0
}

/// A Chinese number at `tokens[at]`: digits, or 一 … 九十九 in characters.
fn chinese_number(scan: &Scan<'_>, at: usize) -> Option<usize> {
    if at >= scan.len() {
        return None;
    }
    if is_written_number(scan.word(at), 5) && !scan.tokens[at].is_cjk {
        return Some(at + 1);
    }
    // Digits read one by one: 一二八 is 128.
    let digits = (at..scan.len().min(at + 5))
        .take_while(|&index| {
            scan.tokens[index].is_cjk
                && "〇零一二三四五六七八九".contains(scan.word(index))
                && (index == at || no_punctuation_before(scan, index))
        })
        .count();
    if digits >= 2 {
        return Some(at + digits);
    }
    let number = scan.reader.parse(at)?;
    (!number.weak && number.digits.len() <= 4).then(|| at + number.n_tokens.max(1))
}

/// "北京市朝阳区建国路88号3号楼2单元501室", "南锣鼓巷八号", "阳光小区5号楼2单元301室".
fn chinese_streets(scan: &Scan<'_>, found: &mut Vec<Range<usize>>) {
    for suffix in 0..scan.len() {
        if !scan.tokens[suffix].is_cjk {
            continue;
        }
        let word = scan.word(suffix);
        if !CHINESE_LAST_CHARACTERS.contains(&word) {
            continue;
        }
        let street = CHINESE_STREETS.contains(&word)
            || (word == "同" && suffix >= 1 && scan.word(suffix - 1) == "胡");
        let estate_start = CHINESE_ESTATES.iter().find_map(|estate| {
            let length = estate.split(' ').count();
            (suffix + 1 >= length
                && scan.phrase_end(suffix + 1 - length, &[estate]) == Some(suffix + 1))
            .then(|| suffix + 1 - length)
        });
        if !street && estate_start.is_none() {
            continue;
        }
        let suffix_start = if word == "同" && street {
            suffix - 1
        } else {
            estate_start.filter(|_| !street).unwrap_or(suffix)
        };
        let name_start = chinese_name_start(scan, suffix_start, 5);
        if suffix_start - name_start < 2 {
            continue;
        }
        if street && suffix >= 1 {
            let pair: String = [scan.word(suffix - 1), word].concat();
            if CHINESE_NOT_STREETS.contains(&pair.as_str()) {
                continue;
            }
        }
        // The number: 88号 after a street; a building number (号楼, 栋, 单元 …) after an estate.
        // Right after the street: "建国路，5号到" is a date after a comma.
        if !no_punctuation_before(scan, suffix + 1) {
            continue;
        }
        let Some(number_end) = chinese_number(scan, suffix + 1) else {
            continue;
        };
        let mut end = if street {
            if scan.word(number_end) != "号"
                || is_chinese_char(scan, number_end + 1, CHINESE_NOT_AFTER_HAO)
            {
                continue;
            }
            number_end + 1
        } else {
            match scan.phrase_end(number_end, &["号 楼", "栋", "幢", "座", "单 元"]) {
                Some(part_end) => part_end,
                None => continue,
            }
        };
        end = chinese_parts(scan, end);
        // Administrative units before: 北京市朝阳区.
        let mut start = name_start;
        loop {
            let admin = chinese_admin_len(scan, start);
            if admin == 0 || !no_punctuation_before(scan, start) {
                break;
            }
            let admin_name = chinese_name_start(scan, start - admin, 4);
            if admin_name == start - admin {
                break;
            }
            start = admin_name;
        }
        found.push(start..end);
    }
}

/// Building parts after a Chinese address: 3号楼2单元501室, 8栋1202, B座.
fn chinese_parts(scan: &Scan<'_>, mut end: usize) -> usize {
    let mut after_unit = false;
    loop {
        let value_end = chinese_number(scan, end).or_else(|| {
            let original = scan.original(end);
            (original.len() == 1 && original.bytes().all(|byte| byte.is_ascii_alphabetic()))
                .then_some(end + 1)
        });
        let Some(value_end) = value_end else {
            return end;
        };
        if let Some(part_end) = scan.phrase_end(value_end, CHINESE_PARTS) {
            if scan.word(part_end - 1) == "号"
                && is_chinese_char(scan, part_end, CHINESE_NOT_AFTER_HAO)
            {
                return end;
            }
            after_unit = scan.word(part_end - 1) == "元";
            end = part_end;
        } else if after_unit && (3..=4).contains(&scan.word(end).len()) {
            // "2单元501": the flat number without 室.
            return value_end;
        } else {
            return end;
        }
    }
}

/// "تهران، خیابان ولیعصر، کوچه ۱۲، پلاک ۵، واحد ۳": a chain of parts (city, street words with
/// their names, plate, unit, floor, postcode) holding a street word and a plate, unit or floor
/// number.
fn persian_streets(scan: &Scan<'_>, found: &mut Vec<Range<usize>>) {
    let mut index = 0;
    while index < scan.len() {
        match persian_chain(scan, index) {
            Some(end) => {
                found.push(index..end);
                index = end;
            }
            None => index += 1,
        }
    }
}

fn persian_chain(scan: &Scan<'_>, start: usize) -> Option<usize> {
    let mut position = start;
    let mut end = start;
    let mut street = false;
    let mut number = false;
    loop {
        if position > start && !scan.joins(position) {
            break;
        }
        if let Some(marker_end) = scan.phrase_end(position, scan.words.markers) {
            let mut name_end = marker_end;
            while name_end < scan.len()
                && name_end - marker_end < 3
                && scan.joins(name_end)
                && !scan.is(name_end, PERSIAN_STOPS)
                && scan.phrase_end(name_end, scan.words.markers).is_none()
                && scan.phrase_end(name_end, scan.words.house).is_none()
                && scan.phrase_end(name_end, scan.words.postcode).is_none()
            {
                name_end += 1;
            }
            if name_end == marker_end {
                break;
            }
            street = true;
            position = name_end;
            end = position;
            continue;
        }
        if let Some(word_end) = scan.phrase_end(position, scan.words.house)
            && scan.joins(word_end)
        {
            let value_end = scan
                .house_number(word_end, 5)
                .or_else(|| scan.is(word_end, PERSIAN_ORDINALS).then_some(word_end + 1));
            let Some(value_end) = value_end else {
                break;
            };
            number = true;
            position = scan.slash_number(value_end);
            end = position;
            continue;
        }
        if let Some(keyword_end) = scan.phrase_end(position, scan.words.postcode)
            && scan.joins(keyword_end)
            && let Some((number_end, 10)) = scan.number_run(keyword_end)
        {
            position = number_end;
            end = position;
            continue;
        }
        if position == start {
            if let Some(city_end) = scan.phrase_end(position, PERSIAN_CITIES) {
                position = city_end;
                continue;
            }
            if let Some(word_end) = scan.phrase_end(position, PERSIAN_CITY_WORDS)
                && scan.joins(word_end)
                && !scan.is(word_end, PERSIAN_STOPS)
            {
                position = word_end + 1;
                continue;
            }
        }
        break;
    }
    (street && number && end > start).then_some(end)
}

/// Whose address `text` gives at `address` (byte range): a company or place-to-go cue anywhere
/// in the sentence makes it the company's ("our branch is at …", "pick it up at …", "…的营业厅");
/// else a customer cue decides, the nearest before it, or after it ("… is that still your
/// address?"). No cue: unknown.
pub(super) fn owner(text: &str, address: &Range<usize>, language: Language) -> AddressOwner {
    let Some(words) = words(language) else {
        return AddressOwner::Unknown;
    };
    let sentence = sentence_around(text, address, words);
    let Some(sentence_text) = text.get(sentence.clone()) else {
        return AddressOwner::Unknown;
    };
    let normalized = normalize::normalize_text(sentence_text, language);
    let tokens = &normalized.tokens;
    let texts: Vec<&str> = tokens.iter().map(|token| token.text.as_str()).collect();
    let reader = Reader::new(&texts, language);
    let scan = Scan {
        text: sentence_text,
        tokens,
        reader: &reader,
        words,
    };
    let local =
        address.start.saturating_sub(sentence.start)..address.end.saturating_sub(sentence.start);
    let mut before: Option<(usize, AddressOwner)> = None;
    let mut after: Option<(usize, AddressOwner)> = None;
    let mut company_anywhere = false;
    for index in 0..scan.len() {
        let cue = if let Some(end) = scan.phrase_end(index, words.customer) {
            Some((end, AddressOwner::Customer))
        } else if is_persian_possessive(language, scan.word(index)) {
            Some((index + 1, AddressOwner::Customer))
        } else {
            scan.phrase_end(index, words.company)
                .map(|end| (end, AddressOwner::Company))
        };
        let Some((end, whose)) = cue else {
            continue;
        };
        if whose == AddressOwner::Company {
            company_anywhere = true;
        }
        let (Some(first), Some(last)) = (tokens.get(index), tokens.get(end - 1)) else {
            continue;
        };
        if last.byte_range.end <= local.start {
            before = Some((index, whose));
        } else if first.byte_range.start >= local.end && after.is_none() {
            after = Some((index, whose));
        }
    }
    // A place the customer is sent to (a branch, a pickup point) is the company's wherever its
    // word stands in the sentence.
    if company_anywhere {
        return AddressOwner::Company;
    }
    before
        .or(after)
        .map_or(AddressOwner::Unknown, |(_, whose)| whose)
}

/// A Persian word with the possessive "your" ending: "آدرستان", "منزلتون" (not the place and
/// season words of [`PERSIAN_NOT_POSSESSIVE`]: "استان", "بیمارستان").
fn is_persian_possessive(language: Language, word: &str) -> bool {
    // Only the nouns of a home: "خودتون" (yourselves) in an idiom is no cue.
    language == Language::Persian
        && ["ادرس", "نشانی", "منزل", "خانه", "محل"]
            .iter()
            .any(|noun| word.starts_with(noun))
        && (word.ends_with("تان") || word.ends_with("تون"))
        && !PERSIAN_NOT_POSSESSIVE.contains(&word)
}

/// The sentence around `address`: from the sentence end before it to the one after it. A '.'
/// after an abbreviation or a single letter ("St.", "ул.", "m.") ends none.
fn sentence_around(text: &str, address: &Range<usize>, words: &Words) -> Range<usize> {
    let ends_sentence = |position: usize, character: char| -> bool {
        match character {
            '!' | '?' | ';' | '…' | '。' | '！' | '？' | '；' | '؟' | '؛' | '\n' => true,
            '.' => {
                let after = text[position + 1..].chars().next();
                if after.is_some_and(|next| !next.is_whitespace()) {
                    return false;
                }
                let word: String = text[..position]
                    .chars()
                    .rev()
                    .take_while(|character| character.is_alphanumeric())
                    .collect::<Vec<char>>()
                    .into_iter()
                    .rev()
                    .collect();
                let folded = normalize::normalize_word(&word);
                !(folded.chars().count() == 1 || words.abbreviations.contains(&folded.as_str()))
            }
            _ => false,
        }
    };
    let start = text
        .get(..address.start)
        .unwrap_or_default()
        .char_indices()
        .rev()
        .find(|&(position, character)| ends_sentence(position, character))
        .map_or(0, |(position, character)| position + character.len_utf8());
    let end = text
        .get(address.end..)
        .unwrap_or_default()
        .char_indices()
        .find(|&(offset, character)| ends_sentence(address.end + offset, character))
        .map_or(text.len(), |(offset, _)| address.end + offset);
    start.min(address.start)..end.max(address.end)
}

#[cfg(test)]
mod tests {
    use super::super::{PiiKind, find, redact};
    use super::*;

    /// The texts of the address spans found.
    fn addresses(text: &str, language: &str) -> Vec<String> {
        find(text, language)
            .into_iter()
            .filter(|span| span.kind == PiiKind::Address)
            .map(|span| text[span.byte_range].to_string())
            .collect()
    }

    fn assert_address(text: &str, language: &str, expected: &str) {
        assert_eq!(
            addresses(text, language),
            vec![expected.to_string()],
            "{text:?}"
        );
    }

    fn assert_no_address(text: &str, language: &str) {
        assert!(
            addresses(text, language).is_empty(),
            "{text:?}: {:?}",
            addresses(text, language)
        );
    }

    fn whose(text: &str, language: &str) -> AddressOwner {
        let spans: Vec<_> = find(text, language)
            .into_iter()
            .filter(|span| span.kind == PiiKind::Address)
            .collect();
        assert_eq!(spans.len(), 1, "{text:?}: {spans:?}");
        owner(text, &spans[0].byte_range, Language::from_code(language))
    }

    #[test]
    fn every_table_word_is_in_normalised_form() {
        let tables = [&ENGLISH, &SPANISH, &RUSSIAN, &POLISH, &CHINESE, &PERSIAN];
        let mut all: Vec<&str> = Vec::new();
        for words in tables {
            for list in [
                words.markers,
                words.house,
                words.units,
                words.abbreviations,
                words.postcode,
                words.fillers,
                words.measures,
                words.other_numbers,
                words.counted,
                words.customer,
                words.company,
            ] {
                all.extend(list);
            }
        }
        for list in [
            ENGLISH_PLAIN_MARKERS,
            ENGLISH_NOT_BEFORE_HOUSE,
            ENGLISH_CLEAR_MARKERS,
            ENGLISH_NOT_IN_NAME,
            ENGLISH_AFTER_ADDRESS,
            ENGLISH_YEAR_WORDS,
            US_STATE_NAMES,
            SPANISH_FLOORS,
            SPANISH_PARTICLES,
            RUSSIAN_CITY,
            CHINESE_STREETS,
            CHINESE_LAST_CHARACTERS,
            CHINESE_ADMIN,
            CHINESE_ESTATES,
            CHINESE_PARTS,
            CHINESE_NOT_STREETS,
            PERSIAN_CITIES,
            PERSIAN_CITY_WORDS,
            PERSIAN_ORDINALS,
            PERSIAN_STOPS,
            PERSIAN_NOT_POSSESSIVE,
        ] {
            all.extend(list);
        }
        for phrase in all {
            for word in phrase.split(' ') {
                let word = word.trim_end_matches('*');
                assert_eq!(normalize::normalize_word(word), word, "{phrase:?}");
            }
        }
    }

    #[test]
    fn english_addresses_with_flat_city_and_postcode() {
        assert_eq!(
            redact(
                "My address is 42 Baker Street, flat 3, London NW1 6XE.",
                "en"
            ),
            "My address is [ADDRESS]."
        );
        assert_address("It's 42 Baker St. in the centre", "en", "42 Baker St");
        assert_address(
            "Flat 3, 42 Baker Street, that's right",
            "en",
            "Flat 3, 42 Baker Street",
        );
        assert_address(
            "send it to forty two Baker Street please",
            "en",
            "forty two Baker Street",
        );
        assert_address(
            "we have you at 1600 Pennsylvania Avenue, Washington, DC 20500",
            "en",
            "1600 Pennsylvania Avenue, Washington, DC 20500",
        );
        assert_address(
            "It's 12 Oak Lane, apt 4B, Springfield, IL 62704.",
            "en",
            "12 Oak Lane, apt 4B, Springfield, IL 62704",
        );
        // Postcodes alone: a UK one by its shape, a ZIP after a state or its keyword.
        assert_address("the postcode is NW1 6XE", "en", "NW1 6XE");
        assert_address("my zip code is 90210", "en", "90210");
        assert_address("that's Springfield, IL 62704", "en", "IL 62704");
    }

    #[test]
    fn english_street_names_without_a_house_number_are_no_address() {
        for text in [
            "I live on Baker Street.",
            "the branch on Main Street is closed",
            "I read it in the Wall Street Journal.",
            "You can buy it at the 5th Avenue store.",
            "Drive along Route 66 for 20 miles.",
            "take the second street on the left",
            "I waited 20 minutes on the street",
            "Your order 12345 ships from the Main Street depot.",
            "your case number is 58213 Baker Street branch",
            "In 2019 Main Street was closed for repairs.",
            "That's $12 Main Street parking, right?",
            "The meeting is at 10:30 Main Street time.",
            "I have two Main Street accounts.",
            "zip code 1234 is not valid",
            "OK 12345 is your reference.",
        ] {
            assert_no_address(text, "en");
        }
    }

    #[test]
    fn spanish_addresses_with_floor_and_door() {
        assert_address(
            "Vivo en la calle Mayor, 12, 3.º B.",
            "es",
            "calle Mayor, 12, 3.º B",
        );
        assert_address(
            "Es calle Mayor número doce, tercero B, gracias.",
            "es",
            "calle Mayor número doce, tercero B",
        );
        assert_address(
            "c/ Mayor nº 12, piso 2, puerta 4, 28013 Madrid",
            "es",
            "c/ Mayor nº 12, piso 2, puerta 4, 28013 Madrid",
        );
        assert_address(
            "en la Avda. de la Constitución 5 bajo izquierda",
            "es",
            "Avda. de la Constitución 5 bajo izquierda",
        );
        assert_address(
            "vivo en el 12 de la calle Mayor desde hace años",
            "es",
            "12 de la calle Mayor",
        );
        assert_eq!(
            redact("Mi código postal es 28013.", "es"),
            "Mi código postal es [ADDRESS]."
        );
    }

    #[test]
    fn spanish_traps_are_no_address() {
        for text in [
            "La calle Mayor está cortada desde el 12 de mayo.",
            "Vivo en la calle Mayor.",
            "La calle Mayor 5 veces al día se llena.",
            "Tiene que pagar 28013 euros.",
            "El pedido 48213 va a la calle Mayor.",
            "Le llamo a las 10:30 desde la plaza Mayor.",
        ] {
            assert_no_address(text, "es");
        }
    }

    #[test]
    fn a_house_number_and_postcode_read_as_a_phone_stay_in_the_address() {
        assert_eq!(
            redact("Es calle Mayor número 12, 28013 Madrid.", "es"),
            "Es [ADDRESS]."
        );
        assert_eq!(
            redact("Mi teléfono es 612 345 678, calle Mayor 5.", "es"),
            "Mi teléfono es [PHONE], [ADDRESS]."
        );
    }

    #[test]
    fn russian_addresses_in_full_and_abbreviated() {
        assert_address(
            "Мой адрес: улица Ленина, дом 5, квартира 12.",
            "ru",
            "улица Ленина, дом 5, квартира 12",
        );
        assert_address(
            "Запишите: ул. Ленина, д. 5, кв. 12, спасибо.",
            "ru",
            "ул. Ленина, д. 5, кв. 12",
        );
        assert_address(
            "живу на Невском проспекте, дом двадцать восемь",
            "ru",
            "Невском проспекте, дом двадцать восемь",
        );
        assert_address(
            "123456, г. Москва, ул. Тверская, д. 1, корп. 2, стр. 3",
            "ru",
            "123456, г. Москва, ул. Тверская, д. 1, корп. 2, стр. 3",
        );
        assert_eq!(
            redact("Мой почтовый индекс 123456.", "ru"),
            "Мой почтовый индекс [ADDRESS]."
        );
    }

    #[test]
    fn russian_home_and_durations_are_no_address() {
        for text in [
            "Я сейчас дома, перезвоните позже.",
            "Мы купили дом 5 лет назад.",
            "Я живу на улице Ленина.",
            "На улице Ленина 5 лет шёл ремонт.",
            "Общая площадь квартиры 50 метров.",
            "Номер заказа 48213, доставка на улицу Ленина.",
        ] {
            assert_no_address(text, "ru");
        }
    }

    #[test]
    fn polish_addresses_with_flat_and_postcode() {
        assert_address(
            "Mieszkam przy ulica Marszałkowska 10 m. 5, 00-590 Warszawa.",
            "pl",
            "ulica Marszałkowska 10 m. 5, 00-590 Warszawa",
        );
        assert_address(
            "Adres: ul. Marszałkowska 10/5, dziękuję.",
            "pl",
            "ul. Marszałkowska 10/5",
        );
        assert_address(
            "al. Jana Pawła II 15 lok. 3",
            "pl",
            "al. Jana Pawła II 15 lok. 3",
        );
        assert_address(
            "przy ulicy Długiej dziesięć, mieszkanie pięć",
            "pl",
            "ulicy Długiej dziesięć, mieszkanie pięć",
        );
        assert_eq!(
            redact("Kod pocztowy to 00-590.", "pl"),
            "Kod pocztowy to [ADDRESS]."
        );
    }

    #[test]
    fn polish_traps_are_no_address() {
        for text in [
            "Proszę wejść na bank.pl 24 godziny na dobę.",
            "Mieszkam przy ulicy Długiej.",
            "Na ulicy Długiej 5 lat temu był remont.",
            "Numer zgłoszenia 48213, oddział przy ulicy Długiej.",
        ] {
            assert_no_address(text, "pl");
        }
    }

    #[test]
    fn words_after_a_house_number_veto_only_when_they_are_counted() {
        for (text, language, expected) in [
            (
                "Ваш адрес улица Ленина дом 5 так?",
                "ru",
                "улица Ленина дом 5",
            ),
            (
                "Ваш адрес улица Ленина, д. 5 всё верно?",
                "ru",
                "улица Ленина, д. 5",
            ),
            (
                "Курьер приедет на улицу Ленина, дом 5 завтра.",
                "ru",
                "улицу Ленина, дом 5",
            ),
            (
                "Kurier przyjedzie na ul. Długą 5 jutro.",
                "pl",
                "ul. Długą 5",
            ),
            (
                "Pan mieszka przy ulicy Długiej 5 zgadza się.",
                "pl",
                "ulicy Długiej 5",
            ),
            (
                "Le llevamos a la calle Mayor 5 mañana.",
                "es",
                "calle Mayor 5",
            ),
            ("Vive en la calle Mayor 5 también.", "es", "calle Mayor 5"),
            ("Es la calle Mayor 5 correcto?", "es", "calle Mayor 5"),
            (
                "En la calle Mayor 5 el paquete llegó.",
                "es",
                "calle Mayor 5",
            ),
            (
                "Es la calle Mayor número 5 tiendas.",
                "es",
                "calle Mayor número 5",
            ),
        ] {
            assert_address(text, language, expected);
        }
        for (text, language) in [
            ("En la calle Mayor 3 tiendas cerraron.", "es"),
            ("На улице Ленина 3 магазина закрылись.", "ru"),
            ("Na ulicy Długiej 3 sklepy są zamknięte.", "pl"),
            ("Na ulicy Długiej 20 osób czekało.", "pl"),
        ] {
            assert_no_address(text, language);
        }
    }

    #[test]
    fn english_read_backs_numbers_commas_and_lower_case() {
        for (text, expected) in [
            ("I have 42 Baker Street, flat 3.", "42 Baker Street, flat 3"),
            (
                "We've got 42 Baker Street on file for you.",
                "42 Baker Street",
            ),
            (
                "It is number 10 Downing Street.",
                "number 10 Downing Street",
            ),
            ("I live at 42, Baker Street.", "42, Baker Street"),
            ("send it to 42 baker street please", "42 baker street"),
        ] {
            assert_address(text, "en", expected);
        }
        for text in [
            "I have 3 Wall Street Journal subscriptions.",
            "There were 2 Oak Street robberies.",
            "Your order number 12345 Main Street branch.",
            "we walked 5 close way place",
            "I saw 3 on the street",
        ] {
            assert_no_address(text, "en");
        }
    }

    #[test]
    fn russian_house_and_flat_numbers_with_nomer_and_hyphen() {
        assert_address(
            "Адрес: улица Ленина, дом номер 5, квартира номер 12.",
            "ru",
            "улица Ленина, дом номер 5, квартира номер 12",
        );
        assert_address("Запишите: ул. Ленина, 5-12.", "ru", "ул. Ленина, 5-12");
        assert_no_address("Номер 5, улица Ленина.", "ru");
    }

    #[test]
    fn russian_floor_area_is_no_square() {
        for text in [
            "Жилая площадь 30 м².",
            "Общая площадь 45 кв. м у вашей квартиры?",
            "Жилая площадь 30 квадратных метров.",
        ] {
            assert_no_address(text, "ru");
        }
        assert_address(
            "Адрес: Красная площадь, дом 1.",
            "ru",
            "Красная площадь, дом 1",
        );
    }

    #[test]
    fn chinese_addresses_with_districts_and_building_parts() {
        assert_address(
            "我家住在北京市朝阳区建国路88号3号楼2单元501室。",
            "zh",
            "北京市朝阳区建国路88号3号楼2单元501室",
        );
        assert_address("地址是南锣鼓巷八号", "zh", "南锣鼓巷八号");
        assert_address(
            "我住阳光小区5号楼2单元301室",
            "zh",
            "阳光小区5号楼2单元301室",
        );
        assert_address("东四十条胡同12号", "zh", "东四十条胡同12号");
        assert_eq!(redact("邮编100020", "zh"), "邮编[ADDRESS]");
    }

    #[test]
    fn chinese_streets_stop_at_punctuation_and_read_digits_one_by_one() {
        assert_address("您好，人民路12号对吗？", "zh", "人民路12号");
        assert_address("哪条路？长安街5号", "zh", "长安街5号");
        assert_address("地址是解放路一二八号", "zh", "解放路一二八号");
        for text in ["您走建国路，5号到。", "您的车停在中山路3号门。"] {
            assert_no_address(text, "zh");
        }
    }

    #[test]
    fn chinese_hao_outside_a_street_is_no_address() {
        for text in [
            "我5月12号来办理的。",
            "您坐地铁一号线到国贸站。",
            "请到3号窗口办理。",
            "我们办公室在8号楼。",
            "我不知道5号能不能到。",
            "您沿着马路3号门进来。",
        ] {
            assert_no_address(text, "zh");
        }
    }

    #[test]
    fn persian_addresses_as_chains_of_parts() {
        assert_address(
            "آدرسم تهران، خیابان ولیعصر، کوچه ۱۲، پلاک ۵، واحد ۳ است.",
            "fa",
            "تهران، خیابان ولیعصر، کوچه ۱۲، پلاک ۵، واحد ۳",
        );
        assert_address(
            "خیابان آزادی پلاک پنج طبقه سوم",
            "fa",
            "خیابان آزادی پلاک پنج طبقه سوم",
        );
        assert_eq!(
            redact("کد پستی ۱۲۳۴۵۶۷۸۹۰ است", "fa"),
            "کد پستی [ADDRESS] است"
        );
    }

    #[test]
    fn persian_street_names_and_hours_are_no_address() {
        for text in [
            "من در خیابان ولیعصر زندگی می‌کنم.",
            "ساعت ۵ به شعبه بیایید.",
            "خیابان ولیعصر خیلی شلوغ است.",
        ] {
            assert_no_address(text, "fa");
        }
    }

    #[test]
    fn ownership_follows_the_nearest_cue_in_the_sentence() {
        use AddressOwner::{Company, Customer, Unknown};
        for (text, language, expected) in [
            ("Your address on file is 42 Baker Street.", "en", Customer),
            ("We have you at 42 Baker Street, flat 3.", "en", Customer),
            ("Is 42 Baker Street still your address?", "en", Customer),
            ("Our branch is at 10 Main Street.", "en", Company),
            ("Your nearest branch is at 10 Main Street.", "en", Company),
            ("Thank you. Our office is at 10 Main Street.", "en", Company),
            ("The parcel went to 42 Baker Street.", "en", Unknown),
            ("Su dirección es calle Mayor 5, 3.º B.", "es", Customer),
            ("Nuestra oficina está en la calle Mayor 5.", "es", Company),
            ("Ваш адрес: ул. Ленина, д. 5, кв. 12.", "ru", Customer),
            ("Наш офис: ул. Ленина, д. 5.", "ru", Company),
            ("Pana adres to ul. Długa 5 m. 3.", "pl", Customer),
            ("Nasz oddział jest przy ul. Długiej 5.", "pl", Company),
            ("您的地址是建国路88号3号楼。", "zh", Customer),
            ("您可以到建国路88号的营业厅办理。", "zh", Company),
            ("آدرس شما خیابان ولیعصر، پلاک ۵ است.", "fa", Customer),
            ("آدرستون خیابان ولیعصر، پلاک ۵ است.", "fa", Customer),
            ("شعبه ما در خیابان ولیعصر، پلاک ۵ است.", "fa", Company),
        ] {
            assert_eq!(whose(text, language), expected, "{text:?}");
        }
    }

    #[test]
    fn other_kinds_keep_their_spans_and_labels_next_to_an_address() {
        let text = "My card is 4111 1111 1111 1111 and I live at 42 Baker Street.";
        let spans = find(text, "en");
        let labels: Vec<(PiiKind, &str)> = spans
            .iter()
            .map(|span| (span.kind, &text[span.byte_range.clone()]))
            .collect();
        assert_eq!(
            labels,
            vec![
                (PiiKind::Card, "4111 1111 1111 1111"),
                (PiiKind::Address, "42 Baker Street"),
            ]
        );
        // A "phone number" inside an address run that is its house number and postcode read
        // together becomes part of the address.
        let text = "calle Mayor número 12, 28013 Madrid";
        let kinds: Vec<PiiKind> = find(text, "es").into_iter().map(|span| span.kind).collect();
        assert_eq!(kinds, vec![PiiKind::Address]);
        // E-mail and secret spans stay.
        assert_eq!(
            redact(
                "Send it to anna@example.com, 42 Baker Street, PIN 4321.",
                "en"
            ),
            "Send it to [EMAIL], [ADDRESS], PIN [SECRET]."
        );
        // A Persian postcode after its keyword is an address, other 10-digit numbers phones.
        assert_eq!(find("کد پستی ۱۲۳۴۵۶۷۸۹۰", "fa")[0].kind, PiiKind::Address);
        assert_eq!(
            find("شماره من ۰۹۱۲۳۴۵۶۷۸۹ است", "fa")[0].kind,
            PiiKind::Phone
        );
    }

    #[test]
    fn other_languages_have_no_address_words() {
        assert!(find("Via Roma 12, 00100 Roma", "it").is_empty());
        assert_eq!(
            owner("Via Roma 12", &(0..11), Language::Other),
            AddressOwner::Unknown
        );
    }
}
