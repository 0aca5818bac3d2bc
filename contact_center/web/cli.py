"""``flask --app wsgi user create|set-password|deactivate|activate``: console logins."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from contact_center import auth, clock, practices
from contact_center.db import session_scope
from contact_center.errors import DomainError
from contact_center.models import Role

user_cli = AppGroup("user", help="Console logins: coordinators, QA leads, admins.")


@user_cli.command("create")
@click.option("--practice", "practice_name", required=True)
@click.option("--name", required=True)
@click.option("--identity", required=True, help="Softphone identity, e.g. ava")
@click.option("--email", required=True)
@click.option(
    "--role",
    type=click.Choice([r.value for r in Role]),
    default=Role.COORDINATOR.value,
    show_default=True,
)
@click.password_option(help="At least 8 characters (prompted when not given)")
def user_create(
    practice_name: str, name: str, identity: str, email: str, role: str, password: str
) -> None:
    """Give a person a console login with a role at a practice."""
    try:
        with session_scope() as session:
            practice = practices.practice_by_name(session, practice_name)
            user = auth.create_login(
                session,
                practice,
                name=name,
                identity=identity,
                email=email,
                role=Role(role),
                password=password,
                now=clock.now(),
            )
            click.echo(f"{user.email} can log in as {role} of {practice.name}")
    except DomainError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


@user_cli.command("set-password")
@click.argument("email")
@click.password_option()
def user_set_password(email: str, password: str) -> None:
    """Set a login's password."""
    try:
        with session_scope() as session:
            user = auth.user_by_email(session, email)
            if user is None:
                raise DomainError(f"no login with email {email}")
            auth.set_password(session, user, password, clock.now())
            click.echo(f"password of {user.email} changed; their sessions have ended")
    except DomainError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


@user_cli.command("deactivate")
@click.argument("email")
def user_deactivate(email: str) -> None:
    """End a login's sessions and refuse its logins from now on."""
    _set_active(email, active=False)


@user_cli.command("activate")
@click.argument("email")
def user_activate(email: str) -> None:
    """Let a deactivated login log in again."""
    _set_active(email, active=True)


def _set_active(email: str, *, active: bool) -> None:
    try:
        with session_scope() as session:
            user = auth.user_by_email(session, email)
            if user is None:
                raise DomainError(f"no login with email {email}")
            if active:
                auth.reactivate(user)
                click.echo(f"{user.email} can log in again")
            else:
                auth.deactivate(session, user, clock.now())
                click.echo(f"{user.email} is deactivated; their sessions have ended")
    except DomainError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
