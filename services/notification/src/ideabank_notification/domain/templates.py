"""Message texts in the four languages people choose from (sv, en, nb, da).

Each template is a (subject, body) pair of ``str.format`` patterns. A motivation or a revisit
date given with a transition is appended as its own line, so the idea giver always sees why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

LANGUAGES = ("sv", "en", "nb", "da")
DEFAULT_LANGUAGE = "sv"

T = dict[str, tuple[str, str]]

TEMPLATES: dict[str, T] = {
    "received": {
        "sv": ("Vi har tagit emot din idé", "Tack! Din idé ”{title}” är registrerad i idébanken."),
        "en": ("We have received your idea", "Thank you! Your idea “{title}” is registered."),
        "nb": ("Vi har mottatt ideen din", "Takk! Ideen din «{title}» er registrert i idébanken."),
        "da": ("Vi har modtaget din idé", "Tak! Din idé »{title}« er registreret i idébanken."),
    },
    "assigned": {
        "sv": (
            "Din idé bedöms nu",
            "Din idé ”{title}” har lämnats till en idéambassadör som bedömer den.",
        ),
        "en": (
            "Your idea is being screened",
            "Your idea “{title}” has been given to an idea ambassador for screening.",
        ),
        "nb": (
            "Ideen din vurderes nå",
            "Ideen din «{title}» er gitt til en idéambassadør som vurderer den.",
        ),
        "da": (
            "Din idé bliver nu vurderet",
            "Din idé »{title}« er givet til en idéambassadør, som vurderer den.",
        ),
    },
    "to_screen": {
        "sv": ("Ny idé att bedöma", "Idén ”{title}” väntar på din bedömning."),
        "en": ("New idea to screen", "The idea “{title}” is waiting for your screening."),
        "nb": ("Ny idé å vurdere", "Ideen «{title}» venter på din vurdering."),
        "da": ("Ny idé at vurdere", "Idéen »{title}« venter på din vurdering."),
    },
    "screening_rejected": {
        "sv": ("Din idé går inte vidare", "Din idé ”{title}” har bedömts och går inte vidare."),
        "en": (
            "Your idea will not go ahead",
            "Your idea “{title}” has been screened and will not go ahead.",
        ),
        "nb": (
            "Ideen din går ikke videre",
            "Ideen din «{title}» er vurdert og går ikke videre.",
        ),
        "da": (
            "Din idé går ikke videre",
            "Din idé »{title}« er blevet vurderet og går ikke videre.",
        ),
    },
    "screening_paused": {
        "sv": (
            "Din idé är vilande",
            "Din idé ”{title}” har bedömts och läggs vilande tills vidare.",
        ),
        "en": (
            "Your idea is paused",
            "Your idea “{title}” has been screened and is paused for now.",
        ),
        "nb": (
            "Ideen din er satt på vent",
            "Ideen din «{title}» er vurdert og satt på vent inntil videre.",
        ),
        "da": (
            "Din idé er sat i bero",
            "Din idé »{title}« er blevet vurderet og sat i bero indtil videre.",
        ),
    },
    "screening_quick_win": {
        "sv": (
            "Din idé kan genomföras direkt",
            "Din idé ”{title}” är en enkel idé och går till en chef för beslut.",
        ),
        "en": (
            "Your idea can be carried out directly",
            "Your idea “{title}” is a quick win and goes to a manager for a decision.",
        ),
        "nb": (
            "Ideen din kan gjennomføres direkte",
            "Ideen din «{title}» er en enkel idé og går til en leder for beslutning.",
        ),
        "da": (
            "Din idé kan gennemføres med det samme",
            "Din idé »{title}« er en enkel idé og går til en leder til beslutning.",
        ),
    },
    "screening_in_development": {
        "sv": (
            "Din idé ska utvecklas",
            "Din idé ”{title}” går vidare och utvecklas tillsammans med dig.",
        ),
        "en": (
            "Your idea will be developed",
            "Your idea “{title}” goes ahead and will be developed together with you.",
        ),
        "nb": (
            "Ideen din skal utvikles",
            "Ideen din «{title}» går videre og utvikles sammen med deg.",
        ),
        "da": (
            "Din idé skal udvikles",
            "Din idé »{title}« går videre og udvikles sammen med dig.",
        ),
    },
    "quick_win_to_decide": {
        "sv": ("En enkel idé väntar på ditt beslut", "Idén ”{title}” väntar på ditt beslut."),
        "en": ("A quick win awaits your decision", "The idea “{title}” awaits your decision."),
        "nb": (
            "En enkel idé venter på din beslutning",
            "Ideen «{title}» venter på din beslutning.",
        ),
        "da": (
            "En enkel idé venter på din beslutning",
            "Idéen »{title}« venter på din beslutning.",
        ),
    },
    "resumed": {
        "sv": ("Din idé är aktuell igen", "Din idé ”{title}” har tagits upp igen."),
        "en": ("Your idea is back", "Your idea “{title}” has been taken up again."),
        "nb": ("Ideen din er aktuell igjen", "Ideen din «{title}» er tatt opp igjen."),
        "da": ("Din idé er aktuel igen", "Din idé »{title}« er taget op igen."),
    },
    "decision_basis_submitted": {
        "sv": (
            "Beslutsunderlaget är klart",
            "Beslutsunderlaget för din idé ”{title}” är klart och väntar på beslut.",
        ),
        "en": (
            "The decision basis is ready",
            "The decision basis for your idea “{title}” is ready and awaits a decision.",
        ),
        "nb": (
            "Beslutningsgrunnlaget er klart",
            "Beslutningsgrunnlaget for ideen din «{title}» er klart og venter på beslutning.",
        ),
        "da": (
            "Beslutningsgrundlaget er klar",
            "Beslutningsgrundlaget for din idé »{title}« er klar og venter på en beslutning.",
        ),
    },
    "decision_approved": {
        "sv": ("Din idé ska genomföras", "Beslut: din idé ”{title}” ska genomföras."),
        "en": (
            "Your idea will be implemented",
            "Decision: your idea “{title}” will be implemented.",
        ),
        "nb": ("Ideen din skal gjennomføres", "Beslutning: ideen din «{title}» skal gjennomføres."),
        "da": ("Din idé skal gennemføres", "Beslutning: din idé »{title}« skal gennemføres."),
    },
    "decision_rejected": {
        "sv": ("Din idé genomförs inte", "Beslut: din idé ”{title}” genomförs inte."),
        "en": (
            "Your idea will not be implemented",
            "Decision: your idea “{title}” will not be implemented.",
        ),
        "nb": ("Ideen din gjennomføres ikke", "Beslutning: ideen din «{title}» gjennomføres ikke."),
        "da": ("Din idé gennemføres ikke", "Beslutning: din idé »{title}« gennemføres ikke."),
    },
    "decision_deferred": {
        "sv": (
            "Beslutet om din idé är uppskjutet",
            "Beslutet om din idé ”{title}” har skjutits upp.",
        ),
        "en": (
            "The decision on your idea is deferred",
            "The decision on your idea “{title}” has been deferred.",
        ),
        "nb": (
            "Beslutningen om ideen din er utsatt",
            "Beslutningen om ideen din «{title}» er utsatt.",
        ),
        "da": (
            "Beslutningen om din idé er udskudt",
            "Beslutningen om din idé »{title}« er udskudt.",
        ),
    },
    "implementer_named": {
        "sv": ("Du ska genomföra en idé", "Du har utsetts att genomföra idén ”{title}”."),
        "en": (
            "You will implement an idea",
            "You have been named to implement the idea “{title}”.",
        ),
        "nb": ("Du skal gjennomføre en idé", "Du er utpekt til å gjennomføre ideen «{title}»."),
        "da": ("Du skal gennemføre en idé", "Du er udpeget til at gennemføre idéen »{title}«."),
    },
    "plan_anchored": {
        "sv": (
            "Planen för din idé är förankrad",
            "Genomförandet av din idé ”{title}” har planerats och startar.",
        ),
        "en": (
            "The plan for your idea is agreed",
            "The implementation of your idea “{title}” is planned and starting.",
        ),
        "nb": (
            "Planen for ideen din er forankret",
            "Gjennomføringen av ideen din «{title}» er planlagt og starter.",
        ),
        "da": (
            "Planen for din idé er forankret",
            "Gennemførelsen af din idé »{title}« er planlagt og går i gang.",
        ),
    },
    "implemented": {
        "sv": ("Din idé är genomförd", "Din idé ”{title}” är genomförd. Tack för ditt bidrag!"),
        "en": (
            "Your idea has been implemented",
            "Your idea “{title}” has been implemented. Thank you!",
        ),
        "nb": (
            "Ideen din er gjennomført",
            "Ideen din «{title}» er gjennomført. Takk for bidraget!",
        ),
        "da": ("Din idé er gennemført", "Din idé »{title}« er gennemført. Tak for dit bidrag!"),
    },
    "evaluated": {
        "sv": ("Din idé är utvärderad", "Nyttan av din idé ”{title}” har utvärderats."),
        "en": (
            "Your idea has been evaluated",
            "The benefit of your idea “{title}” has been evaluated.",
        ),
        "nb": ("Ideen din er evaluert", "Nytten av ideen din «{title}» er evaluert."),
        "da": ("Din idé er evalueret", "Gevinsten af din idé »{title}« er blevet evalueret."),
    },
    "offered": {
        "sv": ("Din idé sprids", "Din idé ”{title}” erbjuds nu andra kommuner i nätverket."),
        "en": (
            "Your idea is spreading",
            "Your idea “{title}” is now offered to other municipalities in the network.",
        ),
        "nb": ("Ideen din spres", "Ideen din «{title}» tilbys nå andre kommuner i nettverket."),
        "da": ("Din idé spredes", "Din idé »{title}« tilbydes nu andre kommuner i netværket."),
    },
    "adopted": {
        "sv": (
            "Din idé har tagits upp av en annan kommun",
            "Din idé ”{title}” har tagits upp av {tenant}.",
        ),
        "en": (
            "Your idea was adopted by another municipality",
            "Your idea “{title}” was adopted by {tenant}.",
        ),
        "nb": (
            "Ideen din er tatt i bruk av en annen kommune",
            "Ideen din «{title}» er tatt i bruk av {tenant}.",
        ),
        "da": (
            "Din idé er taget op af en anden kommune",
            "Din idé »{title}« er taget op af {tenant}.",
        ),
    },
    "merged": {
        "sv": (
            "Din idé har slagits ihop med en annan",
            "Din idé ”{title}” har slagits ihop med en liknande idé.",
        ),
        "en": (
            "Your idea was merged with another",
            "Your idea “{title}” was merged with a similar idea.",
        ),
        "nb": (
            "Ideen din er slått sammen med en annen",
            "Ideen din «{title}» er slått sammen med en lignende idé.",
        ),
        "da": (
            "Din idé er lagt sammen med en anden",
            "Din idé »{title}« er lagt sammen med en lignende idé.",
        ),
    },
    "commented": {
        "sv": (
            "Ny kommentar på en idé du följer",
            "Någon har kommenterat idén ”{title}”:\n{comment}",
        ),
        "en": (
            "New comment on an idea you follow",
            "Someone commented on the idea “{title}”:\n{comment}",
        ),
        "nb": (
            "Ny kommentar på en idé du følger",
            "Noen har kommentert ideen «{title}»:\n{comment}",
        ),
        "da": (
            "Ny kommentar til en idé, du følger",
            "Nogen har kommenteret idéen »{title}«:\n{comment}",
        ),
    },
    "reminder_screening": {
        "sv": (
            "Påminnelse: idé väntar på bedömning",
            "Idén ”{title}” har väntat på bedömning sedan {since}.",
        ),
        "en": (
            "Reminder: idea waiting for screening",
            "The idea “{title}” has been waiting for screening since {since}.",
        ),
        "nb": (
            "Påminnelse: idé venter på vurdering",
            "Ideen «{title}» har ventet på vurdering siden {since}.",
        ),
        "da": (
            "Påmindelse: idé venter på vurdering",
            "Idéen »{title}« har ventet på vurdering siden {since}.",
        ),
    },
    "reminder_decision": {
        "sv": (
            "Påminnelse: idé väntar på beslut",
            "Idén ”{title}” har väntat på beslut sedan {since}.",
        ),
        "en": (
            "Reminder: idea waiting for a decision",
            "The idea “{title}” has been waiting for a decision since {since}.",
        ),
        "nb": (
            "Påminnelse: idé venter på beslutning",
            "Ideen «{title}» har ventet på beslutning siden {since}.",
        ),
        "da": (
            "Påmindelse: idé venter på beslutning",
            "Idéen »{title}« har ventet på beslutning siden {since}.",
        ),
    },
    "reminder_resumed": {
        "sv": ("En vilande idé är tillbaka", "Idén ”{title}” är aktuell igen och väntar på dig."),
        "en": ("A paused idea is back", "The idea “{title}” is back and waiting for you."),
        "nb": ("En idé på vent er tilbake", "Ideen «{title}» er aktuell igjen og venter på deg."),
        "da": ("En idé i bero er tilbage", "Idéen »{title}« er aktuel igen og venter på dig."),
    },
    "announcement_draft": {
        "sv": (
            "Utkast till nyhet att godkänna",
            "Idén ”{title}” ska genomföras. Granska och godkänn nyheten till all personal.",
        ),
        "en": (
            "Announcement draft to approve",
            "The idea “{title}” is going into implementation. Review and approve the announcement to all staff.",
        ),
        "nb": (
            "Utkast til nyhet til godkjenning",
            "Ideen «{title}» skal gjennomføres. Se over og godkjenn nyheten til alle ansatte.",
        ),
        "da": (
            "Udkast til nyhed til godkendelse",
            "Idéen »{title}« skal gennemføres. Gennemse og godkend nyheden til alle medarbejdere.",
        ),
    },
    "announcement": {
        "sv": (
            "Ny idé genomförs: {title}",
            "En medarbetares idé, ”{title}”, genomförs nu i förvaltningen.",
        ),
        "en": (
            "New idea being implemented: {title}",
            "A colleague's idea, “{title}”, is now being implemented in the administration.",
        ),
        "nb": (
            "Ny idé gjennomføres: {title}",
            "En medarbeiders idé, «{title}», gjennomføres nå i virksomheten.",
        ),
        "da": (
            "Ny idé gennemføres: {title}",
            "En medarbejders idé, »{title}«, gennemføres nu i forvaltningen.",
        ),
    },
    "webhook_disabled": {
        "sv": (
            "Webhook avstängd",
            "Webhooken till {url} har stängts av efter {failures} misslyckade leveranser i rad.",
        ),
        "en": (
            "Webhook disabled",
            "The webhook to {url} was disabled after {failures} failed deliveries in a row.",
        ),
        "nb": (
            "Webhook deaktivert",
            "Webhooken til {url} er deaktivert etter {failures} mislykkede leveranser på rad.",
        ),
        "da": (
            "Webhook deaktiveret",
            "Webhooken til {url} er deaktiveret efter {failures} mislykkede leveringer i træk.",
        ),
    },
    "digest": {
        "sv": ("Din sammanfattning från idébanken ({count})", "Det här har hänt sedan sist:"),
        "en": (
            "Your summary from the idea bank ({count})",
            "This is what happened since last time:",
        ),
        "nb": ("Din oppsummering fra idébanken ({count})", "Dette har skjedd siden sist:"),
        "da": ("Din opsummering fra idébanken ({count})", "Dette er sket siden sidst:"),
    },
}

#: Extra lines appended to a body when the parameter is given.
EXTRA_LINES: dict[str, dict[str, str]] = {
    "motivation": {
        "sv": "Motivering: {motivation}",
        "en": "Motivation: {motivation}",
        "nb": "Begrunnelse: {motivation}",
        "da": "Begrundelse: {motivation}",
    },
    "revisit_date": {
        "sv": "Idén tas upp igen {revisit_date}.",
        "en": "The idea will be taken up again on {revisit_date}.",
        "nb": "Ideen tas opp igjen {revisit_date}.",
        "da": "Idéen tages op igen {revisit_date}.",
    },
}


@dataclass(frozen=True)
class Rendered:
    """A message ready to show or send."""

    subject: str
    body: str
    language: str


class _Defaulting(dict[str, object]):
    def __missing__(self, key: str) -> str:
        return ""


def language_or_default(language: str | None, fallback: str | None = None) -> str:
    """A supported language: the person's, else the tenant's, else Swedish."""
    for candidate in (language, fallback):
        if candidate in LANGUAGES:
            return str(candidate)
    return DEFAULT_LANGUAGE


def render(template: str, language: str | None, params: Mapping[str, object]) -> Rendered:
    """The template in ``language`` (falling back to Swedish) with ``params`` filled in."""
    lang = language_or_default(language)
    subject, body = TEMPLATES[template][lang]
    values = _Defaulting(params)
    lines = [body.format_map(values)]
    for key, patterns in EXTRA_LINES.items():
        if params.get(key):
            lines.append(patterns[lang].format_map(values))
    return Rendered(subject.format_map(values), "\n\n".join(lines), lang)


def render_digest(language: str | None, items: list[tuple[str, str]]) -> Rendered:
    """One summary message of several (subject, body) items."""
    lang = language_or_default(language)
    subject, intro = TEMPLATES["digest"][lang]
    parts = [intro] + [f"• {s}\n{b}" for s, b in items]
    return Rendered(subject.format(count=len(items)), "\n\n".join(parts), lang)
