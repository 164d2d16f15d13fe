"""A fictional local news site's comments: crypto-"recovery" and investment spam unlike the corpora, and news ham.

Spam is written in fluent sentences with Telegram/WhatsApp contacts and no links; ham is ordinary
discussion, with money talk and honest contact details mixed in so no single word gives spam away.
Comments are composed from many slots, so they are not near-duplicates of each other.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

SITE = "https://millbrook-courier.example"
POOL_SIZE = 200
POOL_SEED = 1
HELD_BACK_SIZE = 360  # before near-duplicates of the pool are dropped; at least 300 remain
HELD_BACK_SEED = 2
SPAM_SHARE = 0.4


def _variants(text: str) -> list[str]:
    """Slot variants written on one line, `|`-separated (a list literal would take a line each)."""
    return text.split("|")


WOMEN = _variants("Linda|Susan|Karen|Helen|Maria|Anna|Grace|Ruth|Julia|Nora|Emma|Olivia|Sarah|Laura|Megan")
MEN = _variants("Mark|Peter|David|James|Robert|Thomas|Daniel|Steven|Michael|Brian|Kevin|Paul|George|Frank|Henry")
FIRST = WOMEN + MEN
LAST = _variants(
    "Carter|Hughes|Patel|Morgan|Brooks|Walsh|Bennett|Foster|Reyes|Collins|Turner|Price|Gray|Murphy|Evans|"
    "Kelly|Ward|Shaw|Lambert|Fischer|Novak|Okafor|Russo|Jensen|Lindqvist|Moreau|Duarte|Haddad|Keller|Byrne"
)
TOWNS = _variants(
    "Millbrook|Ashford Green|Harlow Bridge|Kestrel Hill|Orchard Vale|Pinecrest|"
    "Stonebury|Wrenfield|Dunmore|Fernleigh|Castleton|Brampton Cross"
)
STREETS = _variants(
    "Station Road|Mill Lane|Queen's Parade|Church Street|Market Hill|Riverside Way|"
    "Elm Avenue|Victoria Road|Bridge Street|Hollow Lane|North Parade|King's Walk"
)
SCHOOLS = _variants(
    "St Anne's Primary|Millbrook High|Kestrel Hill Academy|Orchard Vale Juniors|"
    "Castleton College|Wrenfield Infants|Pinecrest Secondary|Fernleigh Primary"
)
TEAMS = _variants("Millbrook Rovers|Ashford Town|Harlow Athletic|Stonebury United|Kestrel FC|Dunmore Wanderers")
RELATIVES = _variants("husband|wife|brother|sister|mother|father|uncle|aunt|son|daughter|neighbour|best friend")
COINS = _variants("bitcoin|BTC|ethereum|USDT|crypto|forex")
PLATFORMS = _variants("crypto trading|forex|bitcoin mining|binary options|NFT investment|gold trading")
FIRM_WORDS = _variants("Sentinel|Bluewave|Northgate|Apex|Harbor|Crestline|Ironbridge|Silverline|Summit|Lakeshore")
FIRM_KINDS = _variants("Asset Recovery|Capital|Funds Retrieval|Trading Group|Wealth Partners|Digital Recovery")
HANDLE_WORDS = _variants("Recovery|Assets|Trade|FX|Crypto|Funds|Wealth|Capital|Invest|Hack")
DAYS = _variants("Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday")
MONTHS = _variants("January|February|March|April|May|June|July|August|September|October|November|December")
SEASONS = _variants("spring|summer|autumn|winter|Christmas|Easter")

SPAM_OPENERS = [
    "I never thought I would comment on a news story, but this one hit close to home.",
    "Stories like this make me angry because the same thing happened to my family.",
    "Please read this if you or someone you love has been scammed online.",
    "I am sharing my experience in case it helps even one reader here.",
    "This article is exactly why people need to know there is still hope.",
    "Last {season} I was in the worst financial situation of my life.",
    "My heart goes out to everyone affected, I was in the same place {months} months ago.",
    "I have read this paper quietly for years and finally have something worth saying.",
    "Nobody talks about what happens after you lose your savings.",
    "Everyone in {town} keeps asking me how I turned things around, so here it is.",
    "Good day to everyone reading this.",
    "",
    "",
]
SPAM_LOSSES = [
    "I lost {amount} to a fake {platform} platform that promised daily returns.",
    "A man I met online convinced me to put {amount} into {coin} and then disappeared.",
    "My {relative} was tricked into sending {amount} to a so-called broker in {year}.",
    "I was scammed out of {amount} by an investment company that looked completely legitimate.",
    "After {months} months of deposits the website froze my account holding {amount}.",
    "I had {amount} stuck after a fake {coin} exchange blocked every withdrawal.",
    "A romance scammer drained {amount} from my retirement savings.",
    "I trusted an online account manager with {amount} and never saw it again.",
]
SPAM_RESCUES = [
    "{expert} helped me recover all of it in just {days} days.",
    "Thanks to {expert}, every penny came back within {days} days and I paid nothing upfront.",
    "I contacted {expert}, a recovery specialist, and within {weeks} weeks the funds were back in my account.",
    "{expert} traced the wallet and got my {coin} returned, I still cannot believe it.",
    "It was {expert} who finally got my money back when the police and my bank could not.",
    "Within {days} days {expert} had recovered {amount2} and explained every step.",
    "{expert} from {firm} handled everything and I received {amount2} back.",
]
SPAM_GAINS = [
    "I started with only {small} under the guidance of {expert} and now I receive {amount2} every week.",
    "Since I began trading with {expert} my portfolio has grown from {small} to {amount2} in {weeks} weeks.",
    "{expert} manages my {coin} trades and I have made {pct}% profit every month since {season}.",
    "My {relative} introduced me to {expert} and the returns paid off our mortgage in {months} months.",
    "With the signals from {expert} I turned {small} into {amount2} without any experience.",
    "I was sceptical at first, but {expert} doubled my investment in {days} days.",
    "{expert} of {firm} showed me how to earn {amount2} a month from home with {coin}.",
]
SPAM_CONTACTS = [
    "You can reach {obj} on Telegram {handle}.",
    "Message {obj} on WhatsApp at {phone}.",
    "{Pron} is on Telegram as {handle} and replies quickly.",
    "Search {handle} on Telegram and tell {obj} I sent you.",
    "Contact {obj} directly on WhatsApp {phone}, {pron} is very honest.",
    "Send {obj} a message on Telegram: {handle}.",
    "Just write to {handle} on Telegram, {pron} will guide you.",
    "{Pron} is available on WhatsApp, {phone}, mention this newspaper.",
    "Telegram: {handle}. Do not let them get away with it.",
]
SPAM_CLOSERS = [
    "God bless you all.",
    "Don't suffer in silence like I did.",
    "Best decision I ever made.",
    "There is still hope, trust me.",
    "Thank me later.",
    "I am forever grateful.",
    "Take care of yourselves out there.",
    "",
    "",
    "",
]

HAM_OPENERS = [
    "Good reporting as always.",
    "I'm not convinced by this article.",
    "Finally someone is saying it out loud.",
    "As someone who has lived in {town} for {years} years, I have to disagree.",
    "Thanks for covering this.",
    "This is the third story like this we have read this year.",
    "Interesting piece, but it leaves out the most important part.",
    "My {relative} and I were talking about exactly this yesterday.",
    "",
    "",
    "",
]
HAM_TOPICS = {
    "politics": [
        "Councillor {last} promised a decision on the {street} redevelopment before {season} and we are still waiting.",
        "The council wants to raise parking charges by {pct}% while the potholes on {street} stay unrepaired.",
        "If the budget really has a {mn} million gap, why are they spending on a new office in {town}?",
        "I voted for {first} {last} last time but the plan for {town} library has changed my mind.",
        "The consultation on the {town} bypass gave residents only {days} days to respond, which is not enough.",
        "{hundreds} new homes on the edge of {town} without a new surgery or school is not sustainable.",
        "The mayor's answer about the {town} bus depot was evasive, and the reporter was right to push.",
        "Whoever wins the by-election in {town} should start with the empty shops on {street}.",
    ],
    "schools": [
        "{school} has lost {few} teachers since September and the head still says everything is fine.",
        "My kids are at {school} and the new uniform rules cost us about {money} a year.",
        "Merging {school} with {school2} makes the walk to school much longer for many families.",
        "Classes of {class_n} at {school} are too large, whatever the council says.",
        "Congratulations to the pupils at {school} on their exam results, {pct}% is a great result.",
        "The breakfast club at {school} is a lifeline for working parents, please don't cut it.",
        "Why did it take {weeks} weeks to fix the heating at {school}?",
        "The parents' WhatsApp group at {school} has talked about nothing else for {days} days.",
    ],
    "traffic": [
        "The roadworks on {street} have added {minutes} minutes to my commute every morning.",
        "The temporary lights at the {street} junction are causing queues back to {town}.",
        "A 20 mph limit on {street} makes sense, I have seen too many near misses outside the shop.",
        "The number {bus} bus to {town} was cancelled again on {day}, with no notice at the stop.",
        "Speed cameras on the {town} road would pay for themselves in a month.",
        "Cyclists on {street} need a proper lane, not paint that stops halfway.",
        "Our street's WhatsApp group knew about the burst main on {street} hours before the council did.",
        "The new car park in {town} is half empty because it costs {money} for two hours.",
    ],
    "sport": [
        "{team} deserved more than a {s1}-{s1} draw on {day}, the referee had a shocker.",
        "Great to see {team} back in form, {first} {last} was outstanding in midfield.",
        "The {town} fun run raised {money} for the hospice, well done to everyone who took part.",
        "{team} need a new striker if they want to stay up this season.",
        "The {team} supporters' Telegram channel had the team news an hour before the club did.",
        "The pitches at {town} park are waterlogged every winter and the youth league suffers.",
        "I have had a season ticket at {team} for {years} years and prices have never been this high.",
        "What a comeback from {team}, {s1}-{s2} after being two down at half time.",
    ],
    "weather": [
        "The flooding on {street} happens every time it rains for more than a day.",
        "{temp} degrees in {month} is not normal, whatever people say.",
        "The gritters never come down {street}, we had to dig ourselves out on {day}.",
        "The storm took down two trees near {school} and nobody has cleared them yet.",
        "A hosepipe ban after the wettest spring in years? Someone needs to explain that.",
        "Frost again on {day} morning, my tomatoes in {town} did not survive.",
    ],
    "money": [  # ham that talks about scams and money: what makes the site's spam hard to tell apart
        "My neighbour lost {money} to an online investment scam and the bank refused to refund him.",
        "The energy bills story is spot on, ours went up by {money} a month.",
        "Anyone who promises you {pct}% returns is lying, my {relative} learned that the hard way.",
        "The police told my {relative} there was little they could do about the crypto fraud.",
        "Pensioners in {town} are being targeted by phone scams, please warn your parents.",
        "Someone messaged my {relative} on WhatsApp pretending to be from the bank, so be careful.",
        "My {relative} finally got {money} back from the travel company after {months} months of emails.",
    ],
    "recommendations": [  # honest tips with a name and a number: the shape of the spam, without the scam
        "If the shop closes, {first} {last} on {street} repairs bikes for a fair price, ring {phone}.",
        "The advice centre in {town} helped my {relative} claim back {money}, they are on {phone} on weekdays.",
        "For anyone flooded, {first} at the {town} residents' association has a list of builders who turned up.",
        "Citizens Advice got my {relative} {money} back from the energy company within {weeks} weeks.",
        "The food bank on {street} needs volunteers on {day}, message {first} on WhatsApp at {phone}.",
    ],
}
HAM_CLOSERS = [
    "Just my opinion.",
    "Rant over.",
    "Let's see what happens at the next meeting.",
    "Keep up the good work.",
    "Someone has to say it.",
    "Well done to the reporter.",
    "",
    "",
    "",
    "",
]


@dataclass(frozen=True)
class SiteComment:
    """One comment of the fictional site, with its true label."""

    text: str
    author: str
    label: str  # "spam" or "ham"


def _money(rng: random.Random, low: int, high: int) -> str:
    return f"{rng.choice('$£€')}{rng.randrange(low, high) // 50 * 50:,}"


def _expert(rng: random.Random) -> dict[str, str]:
    """A recovery 'expert' and the pronouns the comment uses for them."""
    woman = rng.random() < 0.6
    first, last = rng.choice(WOMEN if woman else MEN), rng.choice(LAST)
    form = rng.choice(["{t} {l}", "{f} {l}", "Agent {f}", "Dr {l}", "{f} {l}, a licensed adviser,"])
    pron, obj = ("she", "her") if woman else ("he", "him")
    name = form.format(t="Mrs" if woman else "Mr", f=first, l=last)
    return {"expert": name, "pron": pron, "Pron": pron.capitalize(), "obj": obj}


def _handle(rng: random.Random) -> str:
    first, last, word, nn = rng.choice(FIRST), rng.choice(LAST), rng.choice(HANDLE_WORDS), rng.randrange(10, 999)
    form = rng.choice(["@{f}{l}_{w}", "@{l}{n}", "@{f}_{w}{n}", "@{w}{f}", "@{w}With{l}"])
    return form.format(f=first, l=last, w=word, n=nn)


def _phone(rng: random.Random) -> str:
    """A WhatsApp number, in one of a few countries' shapes."""
    return f"+{rng.choice(['44 7', '1 ', '234 8', '971 5'])}{rng.randrange(100, 999)} {rng.randrange(1000, 99999)}"


def _slots(rng: random.Random) -> dict[str, Any]:
    """Fresh values for every slot a template may name."""
    school, school2 = rng.sample(SCHOOLS, 2)
    return {
        **_expert(rng),
        "handle": _handle(rng),
        "phone": _phone(rng),
        "amount": rng.choice([_money(rng, 3000, 250_000), f"{rng.randrange(2, 60) / 10} {rng.choice(['BTC', 'ETH'])}"]),
        "amount2": _money(rng, 2000, 90_000),
        "small": _money(rng, 200, 3000),
        "money": _money(rng, 20, 900),
        "firm": f"{rng.choice(FIRM_WORDS)} {rng.choice(FIRM_KINDS)}",
        "coin": rng.choice(COINS),
        "platform": rng.choice(PLATFORMS),
        "relative": rng.choice(RELATIVES),
        "town": rng.choice(TOWNS),
        "street": rng.choice(STREETS),
        "school": school,
        "school2": school2,
        "team": rng.choice(TEAMS),
        "first": rng.choice(FIRST),
        "last": rng.choice(LAST),
        "day": rng.choice(DAYS),
        "month": rng.choice(MONTHS),
        "season": rng.choice(SEASONS),
        "year": rng.randrange(2019, 2026),
        "years": rng.randrange(3, 45),
        "months": rng.randrange(2, 20),
        "weeks": rng.randrange(2, 12),
        "days": rng.randrange(3, 30),
        "pct": rng.randrange(5, 95),
        "mn": rng.randrange(2, 40),
        "hundreds": rng.randrange(2, 30) * 50,
        "few": rng.randrange(3, 15),
        "class_n": rng.randrange(31, 38),
        "minutes": rng.randrange(10, 50),
        "bus": rng.randrange(2, 99),
        "s1": rng.randrange(0, 5),
        "s2": rng.randrange(0, 5),
        "temp": rng.randrange(-8, 36),
    }


def _join(rng: random.Random, templates: Sequence[str]) -> str:
    slots = _slots(rng)
    return " ".join(t.format(**slots) for t in templates if t)


def spam_text(rng: random.Random) -> str:
    """A recovery or investment testimonial with a Telegram/WhatsApp contact and no link."""
    story = [rng.choice(SPAM_LOSSES), rng.choice(SPAM_RESCUES)] if rng.random() < 0.55 else [rng.choice(SPAM_GAINS)]
    parts = [rng.choice(SPAM_OPENERS), *story, rng.choice(SPAM_CONTACTS), rng.choice(SPAM_CLOSERS)]
    if rng.random() < 0.25:  # some put the contact first, as a hook
        parts = [parts[-2], *parts[:-2], parts[-1]]
    return _join(rng, parts)


def ham_text(rng: random.Random) -> str:
    """An ordinary comment on local news: politics, schools, traffic, sport, weather, money."""
    topic = rng.choice(list(HAM_TOPICS))
    body = rng.sample(HAM_TOPICS[topic], 2 if rng.random() < 0.5 else 1)
    return _join(rng, [rng.choice(HAM_OPENERS), *body, rng.choice(HAM_CLOSERS)])


def author_name(rng: random.Random) -> str:
    """A commenter's name, drawn the same way for spam and ham so the name says nothing."""
    first, last = rng.choice(FIRST), rng.choice(LAST)
    form = rng.choice(["{f} {l}", "{f}{n}", "{fl}_{ll}", "{i}. {l}", "{f}"])
    return form.format(f=first, l=last, n=rng.randrange(1, 99), fl=first.lower(), ll=last.lower(), i=first[0])


def generate_comments(n: int, seed: int, spam_share: float = SPAM_SHARE) -> list[SiteComment]:
    """`n` comments of the site, exactly round(n * spam_share) of them spam, in a seeded order."""
    rng = random.Random(seed)
    labels = ["spam"] * round(n * spam_share) + ["ham"] * (n - round(n * spam_share))
    rng.shuffle(labels)
    return [
        SiteComment(spam_text(rng) if label == "spam" else ham_text(rng), author_name(rng), label) for label in labels
    ]


def drop_near_duplicates(held_back: list[SiteComment], pool: list[SiteComment]) -> list[SiteComment]:
    """The held-back comments that share no near-duplicate group with any pool comment."""
    from training.dataset import near_duplicate_groups

    groups = near_duplicate_groups([c.text for c in pool] + [c.text for c in held_back])
    seen = set(groups[: len(pool)].tolist())
    return [c for c, g in zip(held_back, groups[len(pool) :], strict=True) if g not in seen]


@dataclass(frozen=True)
class SiteData:
    """The site's feedback pool and its held-back comments (near-duplicates of the pool dropped)."""

    pool: list[SiteComment]
    held_back: list[SiteComment]
    dropped: int


def site_data(pool_size: int = POOL_SIZE, held_back_size: int = HELD_BACK_SIZE) -> SiteData:
    """The fixed pool and held-back set every scenario uses."""
    pool = generate_comments(pool_size, POOL_SEED)
    candidates = generate_comments(held_back_size, HELD_BACK_SEED)
    held_back = drop_near_duplicates(candidates, pool)
    return SiteData(pool, held_back, len(candidates) - len(held_back))
