"""``tenantctl key``: create, list, revoke and rotate a tenant's API keys.

A new key is printed once (``create``, ``rotate``); afterwards only its id and metadata
can be shown, since the database holds just a digest of its secret.
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Annotated, Any

import typer

from toolkit.api_keys import ApiKeyInfo, CreatedKey, create, list_keys, revoke, rotate
from toolkit.cli.context import state, user_errors
from toolkit.cli.render import console, print_json, table
from toolkit.durations import parse_duration

app = typer.Typer(help="Create, list, revoke and rotate tenant API keys.")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
SubdomainArgument = Annotated[str, typer.Argument(help="Tenant subdomain (or schema name).")]
KeyIdArgument = Annotated[
    str, typer.Argument(help="Key id: the 16 hex characters after tc_, as `key list` shows.")
]


@app.command("create")
def create_(
    ctx: typer.Context,
    subdomain: SubdomainArgument,
    name: Annotated[str, typer.Option("--name", help="What the key is for, e.g. 'CI deploys'.")],
    scopes: Annotated[
        str, typer.Option("--scopes", help="Comma-separated scopes, e.g. orders:read,designs:read.")
    ] = "",
    expires: Annotated[
        str | None,
        typer.Option("--expires", help="Lifetime such as 90d, 24h or 30m (default: no expiry)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Create an API key and print it once: only a digest of it is stored."""
    with user_errors():
        lifetime = None if expires is None else parse_duration(expires, option="--expires")
        created = create(state(ctx).engine(), subdomain, name, scopes.split(","), lifetime)
    _print_new_key(created, "created", as_json)


@app.command("list")
def list_(ctx: typer.Context, subdomain: SubdomainArgument, as_json: JsonFlag = False) -> None:
    """List a tenant's keys (ids, names, scopes, dates, state); never a secret."""
    with user_errors():
        keys = list_keys(state(ctx).engine(), subdomain)
    if as_json:
        print_json([_info_json(key) for key in keys])
        return
    rows = [
        [
            key.key_id,
            key.name,
            ", ".join(key.scopes) or "-",
            key.state,
            _when(key.expires_at, short=True),
            _when(key.last_used_at, short=True),
        ]
        for key in keys
    ]
    columns = ["key id", "name", "scopes", "state", "expires (UTC)", "last used (UTC)"]
    listing = table(f"{len(keys)} API key(s) of {subdomain}", columns, rows)
    listing.columns[0].no_wrap = True  # an id is copied whole into revoke and rotate
    console.print(listing)


@app.command("revoke")
def revoke_(
    ctx: typer.Context,
    subdomain: SubdomainArgument,
    key_id: KeyIdArgument,
    as_json: JsonFlag = False,
) -> None:
    """Revoke a key now (revoking it again changes nothing)."""
    with user_errors():
        info = revoke(state(ctx).engine(), subdomain, key_id)
    if as_json:
        print_json(_info_json(info))
    else:
        console.print(
            f"revoked API key {info.key_id} ({info.name}) of tenant {subdomain} "
            f"at {_when(info.revoked_at)}",
            highlight=False,
            soft_wrap=True,
        )


@app.command("rotate")
def rotate_(
    ctx: typer.Context,
    subdomain: SubdomainArgument,
    key_id: KeyIdArgument,
    grace: Annotated[
        str, typer.Option("--grace", help="How long the old key keeps working, e.g. 24h or 0s.")
    ] = "24h",
    expires: Annotated[
        str | None,
        typer.Option("--expires", help="Lifetime of the new key (default: the old key's)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Create a key with the same name and scopes; the old one ends after --grace."""
    with user_errors():
        grace_period = parse_duration(grace, option="--grace", allow_zero=True)
        lifetime = None if expires is None else parse_duration(expires, option="--expires")
        rotated = rotate(
            state(ctx).engine(), subdomain, key_id, grace=grace_period, expires=lifetime
        )
    if as_json:
        print_json({**_new_key_json(rotated.new), "replaced": _info_json(rotated.old)})
        return
    _print_new_key(rotated.new, f"rotated {rotated.old.key_id} to", as_json=False)
    console.print(
        f"old key {rotated.old.key_id} works until {_when(rotated.old.expires_at)}",
        highlight=False,
        soft_wrap=True,
    )


def _print_new_key(created: CreatedKey, done: str, as_json: bool) -> None:
    if as_json:
        print_json(_new_key_json(created))
        return
    info = created.info
    console.print(
        f"{done} API key {info.key_id} ({info.name}) for tenant {created.subdomain}; "
        f"scopes: {', '.join(info.scopes) or 'none'}; expires: {_when(info.expires_at)}",
        highlight=False,
        soft_wrap=True,
    )
    # The key on a line of its own, unstyled, so it can be copied or piped.
    print(created.plaintext)
    console.print("store it now: it cannot be shown again", highlight=False)


def _new_key_json(created: CreatedKey) -> dict[str, Any]:
    return {"tenant": created.subdomain, "key": created.plaintext, **_info_json(created.info)}


def _info_json(info: ApiKeyInfo) -> dict[str, Any]:
    return {**dataclasses.asdict(info), "scopes": list(info.scopes)}


def _when(moment: datetime.datetime | None, *, short: bool = False) -> str:
    if moment is None:
        return "never"
    shown = moment.astimezone(datetime.UTC)
    return shown.strftime("%Y-%m-%d %H:%M") if short else shown.strftime("%Y-%m-%d %H:%M:%S UTC")
