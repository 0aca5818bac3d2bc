"""The console's HTML pages, one per job: softphone + callbacks, inbox, QA, wallboard, settings."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    abort,
    g,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from werkzeug.http import parse_range_header
from werkzeug.wrappers import Response as BaseResponse

from appointments.measures import measures_csv
from contact_center import auth, clock, parsing
from contact_center.db import session_scope
from contact_center.errors import DomainError, Forbidden, NotFound
from contact_center.hours import OpeningHours
from contact_center.messaging.jobs import schedule_delivery
from contact_center.models import ConsentMode, Role
from contact_center.web import inbox as inbox_service
from contact_center.web import practice_settings, queries, reports, review
from contact_center.web.access import call_for, current_user, practice_view, role
from contact_center.web.outcomes import OUTCOMES
from contact_center.web.outcomes import label as outcome_label
from contact_center.webhooks import app_settings
from ivr import opt_out_review
from qa.audit import Reader
from qa.scorecards import current_scorecard
from recordings.services import open_recording
from recordings.storage import store_for
from routing import dialer_jobs, sla
from routing.models import PresenceState
from routing.services import presence_of

bp = Blueprint("pages", __name__, url_prefix="/p/<int:practice_id>")

COORDINATING = {Role.COORDINATOR, Role.ADMIN}
SUPERVISING = {Role.QA_LEAD, Role.ADMIN}
CALL_FLAGS = frozenset({"after_hours", "missed", "no_consent"})
# The Voice SDK's sound names -> our files (scripts/make-softphone-sounds.py), not Twilio's CDN.
SOFTPHONE_SOUNDS = {
    "incoming": "incoming",
    "outgoing": "outgoing",
    "disconnect": "disconnect",
    **{f"dtmf{d}": f"dtmf-{d}" for d in "0123456789"},
    "dtmfs": "dtmf-star",
    "dtmfh": "dtmf-hash",
}


@bp.errorhandler(NotFound)
def _not_found(error: NotFound) -> tuple[str, int]:
    return render_template("error.html", title="Not found", message=str(error)), 404


@bp.errorhandler(Forbidden)
def _forbidden(error: Forbidden) -> tuple[str, int]:
    return render_template("error.html", title="Not allowed", message=str(error)), 403


def _page(template: str, practice_id: int, **context: Any) -> str:
    user = current_user()
    assert user is not None
    with session_scope() as s:
        practice = queries.practice(s, practice_id)
        memberships = auth.member_practices(s, user.id)
    return render_template(
        template,
        practice=practice,
        practice_id=practice_id,
        memberships=memberships,
        role=role(),
        sandbox=app_settings().sandbox,
        **context,
    )


@bp.get("/console")
@practice_view(COORDINATING)
def console(practice_id: int) -> str:
    user = current_user()
    assert user is not None
    now = clock.now()
    with session_scope() as s:
        callbacks = queries.open_callbacks(s, practice_id, now)
        presence = presence_of(s, user.id, now).state
    return _page(
        "console.html",
        practice_id,
        callbacks=callbacks,
        presence=presence,
        outcomes=OUTCOMES,
        settable=[PresenceState.AVAILABLE, PresenceState.AWAY, PresenceState.OFFLINE],
        sounds={
            name: url_for("static", filename=f"sounds/{file}.wav")
            for name, file in SOFTPHONE_SOUNDS.items()
        },
    )


@bp.get("/inbox")
@practice_view(COORDINATING)
def inbox(practice_id: int) -> str:
    return _inbox_page(practice_id, request.args.get("c", ""))


def _inbox_page(practice_id: int, selected: str, error: str | None = None, draft: str = "") -> str:
    with session_scope() as s:
        threads = inbox_service.threads(s, practice_id)
        current = messages = None
        chosen = parsing.ident(selected)
        if chosen is not None:
            current = inbox_service.conversation_in_practice(s, practice_id, chosen)
            messages = inbox_service.messages_of(s, current)
        elif threads:
            current = inbox_service.conversation_in_practice(s, practice_id, threads[0].id)
            messages = inbox_service.messages_of(s, current)
        templates = inbox_service.templates_of(s, practice_id)
    return _page(
        "inbox.html",
        practice_id,
        threads=threads,
        current=current,
        messages=messages,
        templates=templates,
        error=error,
        draft=draft,
    )


@bp.post("/inbox/<int:conversation_id>/reply")
@practice_view(COORDINATING)
def inbox_reply(practice_id: int, conversation_id: int) -> BaseResponse | tuple[str, int]:
    user = current_user()
    assert user is not None
    body = parsing.text(request.form.get("body"), 1600)
    try:
        with session_scope() as s:
            message = inbox_service.reply(
                s, practice_id, conversation_id, user.id, body, clock.now()
            )
            schedule_delivery(s, message.id, message.send_after)
    except NotFound:
        raise
    except DomainError as exc:  # the send function's refusal, shown inline
        return _inbox_page(practice_id, str(conversation_id), str(exc), body), 422
    return redirect(url_for("pages.inbox", practice_id=practice_id, c=conversation_id, sent=1))


@bp.post("/inbox/<int:conversation_id>/opt-out")
@practice_view(COORDINATING)
def inbox_opt_out(practice_id: int, conversation_id: int) -> BaseResponse | tuple[str, int]:
    """A person decides a possible opt-out: "confirm" (opt out) or "clear" (not an opt-out)."""
    user = current_user()
    assert user is not None
    decision = request.form.get("decision", "")
    if decision not in ("confirm", "clear"):
        return _inbox_page(practice_id, str(conversation_id), "choose confirm or clear"), 422
    try:
        with session_scope() as s:
            if decision == "confirm":
                opt_out_review.confirm_opt_out(
                    s, practice_id, conversation_id, user.id, clock.now()
                )
            else:
                released = opt_out_review.not_an_opt_out(
                    s, practice_id, conversation_id, user.id, clock.now()
                )
                # Held texts and paused calls go once the decision commits.
                for message_id in released.message_ids:
                    schedule_delivery(s, message_id, None)
                for attempt_id, due in released.attempts:
                    dialer_jobs.schedule_attempt(s, attempt_id, due)
    except NotFound:
        raise
    except DomainError as exc:
        return _inbox_page(practice_id, str(conversation_id), str(exc)), 409
    return redirect(url_for("pages.inbox", practice_id=practice_id, c=conversation_id))


def _call_filter() -> queries.CallFilter:
    args = request.args
    return queries.CallFilter(
        coordinator_id=parsing.ident(args.get("coordinator")),
        day=parsing.day(args.get("day")),
        recorded_only=args.get("recorded") == "1",
        flag=parsing.choice(args.get("flag"), CALL_FLAGS),
    )


@bp.get("/qa")
@practice_view(SUPERVISING)
def qa_calls(practice_id: int) -> str:
    flt = _call_filter()
    with session_scope() as s:
        calls = queries.call_list(s, practice_id, flt)
        scores = review.scores_by_call(s, [c.id for c in calls])
        staff = queries.coordinators(s, practice_id)
    return _page(
        "qa_list.html",
        practice_id,
        calls=calls,
        flt=flt,
        scores=scores,
        staff=[(u.id, u.name) for u, _ in staff],
    )


def _reader() -> Reader:
    user = current_user()
    assert user is not None
    return Reader(
        user.id, request.remote_addr, parsing.text(request.headers.get("User-Agent"), 255)
    )


@bp.get("/calls/<int:call_id>")
@practice_view()
def call_detail(practice_id: int, call_id: int) -> str:
    user = current_user()
    assert user is not None
    can_review = role() in SUPERVISING
    with session_scope() as s:
        call = call_for(s, practice_id, call_id)  # minimum necessary: the call rule
        pop = queries.screen_pop(s, practice_id, call)
        timeline = queries.timeline_of(s, practice_id, call_id)
        outcome = queries.latest_outcome(s, call_id)
        qa = review.review_view(s, practice_id, call, _reader(), clock.now(), can_review=can_review)
    return _page(
        "call.html",
        practice_id,
        call=call,
        pop=pop,
        timeline=timeline,
        outcome=outcome,
        outcome_label=outcome_label,
        qa=qa,
        can_review=can_review,
        error=parsing.line(request.args.get("error"), 300) or None,
    )


@bp.get("/calls/<int:call_id>/recordings/<int:recording_id>/audio")
@practice_view()
def recording_audio(practice_id: int, call_id: int, recording_id: int) -> Response:
    """The decrypted audio, streamed; the recordings feature checks access and audits."""
    with session_scope() as s:
        call_for(s, practice_id, call_id)
        review.recording_in_practice(s, practice_id, call_id, recording_id)
        audio = open_recording(s, _reader(), recording_id, clock.now())
    store = store_for(app_settings())
    headers = {"Cache-Control": "private, no-store", "Accept-Ranges": "bytes"}
    wanted = _byte_range(request.headers.get("Range"), audio.size)
    if wanted == UNSATISFIABLE:
        headers["Content-Range"] = f"bytes */{audio.size}"
        return Response(status=416, headers=headers)
    if wanted is None or audio.size is None:
        # The whole file: its checksum is verified once the last byte is out.
        chunks = store.read(audio.path, audio.recording_sid, audio.sha256)
        if audio.size is not None:
            headers["Content-Length"] = str(audio.size)
        return Response(stream_with_context(chunks), mimetype="audio/wav", headers=headers)
    start, end = wanted
    # A range lets the player seek (evidence links jump to the moment a criterion was met).
    headers["Content-Range"] = f"bytes {start}-{end}/{audio.size}"
    headers["Content-Length"] = str(end - start + 1)
    chunks = store.read_range(audio.path, audio.recording_sid, start, end)
    return Response(stream_with_context(chunks), status=206, mimetype="audio/wav", headers=headers)


UNSATISFIABLE = (-1, -1)


def _byte_range(header: str | None, size: int | None) -> tuple[int, int] | None:
    """The range of a ``Range: bytes=a-b`` header within ``size``: None for the whole file
    (no header, several ranges, or one we do not understand), ``UNSATISFIABLE`` for one that
    starts past the end (416)."""
    if not header or size is None:
        return None
    ranges = parse_range_header(header)
    if ranges is None or len(ranges.ranges) != 1:
        return None
    bounds = ranges.range_for_length(size)
    if bounds is None:
        return UNSATISFIABLE
    return bounds[0], bounds[1] - 1


def _review_action(practice_id: int, call_id: int, action: str) -> BaseResponse:
    user = current_user()
    assert user is not None
    form, now = request.form, clock.now()
    error = None
    with session_scope() as s:
        call_for(s, practice_id, call_id)
    try:
        with session_scope() as s:
            if action == "override":
                review.override(
                    s,
                    practice_id,
                    call_id,
                    user.id,
                    parsing.token(form.get("criterion")),
                    form.get("met") == "1",
                    parsing.text(form.get("note"), 2000) or None,
                    now,
                )
            elif action == "comment":
                review.comment(
                    s, practice_id, call_id, user.id, parsing.text(form.get("comment"), 4000), now
                )
            else:
                review.finalize(s, practice_id, call_id, user.id, now)
    except NotFound:
        raise
    except DomainError as exc:
        error = str(exc)
    target = url_for("pages.call_detail", practice_id=practice_id, call_id=call_id, error=error) + (
        "" if error else "#review"
    )
    return redirect(target)


@bp.post("/calls/<int:call_id>/review/override")
@practice_view(SUPERVISING)
def review_override(practice_id: int, call_id: int) -> BaseResponse:
    return _review_action(practice_id, call_id, "override")


@bp.post("/calls/<int:call_id>/review/comment")
@practice_view(SUPERVISING)
def review_comment(practice_id: int, call_id: int) -> BaseResponse:
    return _review_action(practice_id, call_id, "comment")


@bp.post("/calls/<int:call_id>/review/finalize")
@practice_view(SUPERVISING)
def review_finalize(practice_id: int, call_id: int) -> BaseResponse:
    return _review_action(practice_id, call_id, "finalize")


@bp.get("/wallboard")
@practice_view()
def wallboard(practice_id: int) -> str:
    with session_scope() as s:
        board = reports.wallboard(s, practice_id, clock.now())
    return _page("wallboard.html", practice_id, board=board)


@bp.get("/wallboard/appointments.csv")
@practice_view()
def appointments_csv(practice_id: int) -> Response:
    """Show, no-show and confirmation rates and booked-to-confirmed time, as CSV (30 days)."""
    now = clock.now()
    with session_scope() as s:
        board = reports.wallboard(s, practice_id, now)
        body = measures_csv(board.practice, board.appointments)
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="appointment-measures.csv"'},
    )


@bp.route("/settings", methods=["GET", "POST"])
@practice_view({Role.ADMIN})
def settings(practice_id: int) -> BaseResponse | str | tuple[str, int]:
    error: DomainError | None = None
    if request.method == "POST":
        form = request.form
        values = practice_settings.PracticeSettings(
            **{
                f: parsing.text(form.get(f), 4000)
                for f in practice_settings.PracticeSettings.__dataclass_fields__
            }
        )
        try:
            with session_scope() as s:
                practice_settings.update_practice(s, practice_id, values)
        except DomainError as exc:
            error = exc
        else:
            return redirect(url_for("pages.settings", practice_id=practice_id, saved=1))
    return _settings_page(practice_id, error, "settings")


@bp.post("/settings/templates")
@practice_view({Role.ADMIN})
def save_template(practice_id: int) -> BaseResponse | str | tuple[str, int]:
    try:
        with session_scope() as s:
            practice_settings.save_template(
                s,
                practice_id,
                parsing.text(request.form.get("name"), 200),
                parsing.text(request.form.get("body"), 4000),
                clock.now(),
            )
    except DomainError as exc:
        return _settings_page(practice_id, exc, "templates")
    return redirect(url_for("pages.settings", practice_id=practice_id, saved=1) + "#templates")


def _settings_page(
    practice_id: int, error: DomainError | None, form_name: str
) -> str | tuple[str, int]:
    with session_scope() as s:
        dialer = sla.dialer_settings(s, practice_id)
        cadence = {
            "cadence": dialer.cadence,
            "max_attempts": dialer.max_attempts,
            "sla_minutes": dialer.sla_minutes,
            "daily_cap": dialer.daily_cap,
        }
        templates = inbox_service.templates_of(s, practice_id)
        card = current_scorecard(s, practice_id, clock.now())
        scorecard = {
            "version": card.version,
            "name": card.name,
            "criteria": [(c.label, c.weight, c.kind.value) for c in card.criteria],
        }
    page = _page(
        "settings.html",
        practice_id,
        error=error,
        error_form=form_name,
        modes=list(ConsentMode),
        saved=request.args.get("saved") == "1",
        form=request.form,
        cadence=cadence,
        templates=templates,
        scorecard=scorecard,
    )
    return (page, 422) if error else page


@bp.get("/try")
@practice_view()
def try_it(practice_id: int) -> str:
    if not app_settings().sandbox:
        abort(404)
    g.try_it = True
    now = clock.now()
    with session_scope() as s:
        practice = queries.practice(s, practice_id)
        zone = ZoneInfo(practice.timezone)
        hours = OpeningHours.parse(practice.hours_spec)
        closed = None
        if not hours.is_open(now, zone):
            # A newcomer trying it at night: say why the softphone will not ring.
            opening = hours.next_opening(now, zone)
            closed = {
                "now": now.astimezone(zone).strftime("%a %-I:%M %p"),
                "hours": hours.describe(),
                "opens": opening.astimezone(zone).strftime("%a %-I:%M %p") if opening else None,
            }
    return _page("try.html", practice_id, closed=closed)
