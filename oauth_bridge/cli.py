"""The ``oauth-bridge`` command: demo, emulator, register-client, serve, nginx-config.

Each subcommand imports what it needs only when it runs, so ``oauth-bridge --help`` is instant
and the emulator does not load the bridge (or looker-sdk) at all.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from oauth_bridge.errors import ConfigError


def _demo(args: argparse.Namespace) -> int:
    from oauth_bridge.demo import run_demo

    run_demo(
        bridge_port=args.port,
        spa_port=args.spa_port,
        emulator_port=args.emulator_port,
        emulator_api_port=args.emulator_api_port,
        token_ttl=args.token_ttl,
        portal_port=args.portal_port if args.portal else None,
        portal=args.portal,
        spa_dir=args.spa_dir,
        spa_origins=tuple(args.spa_origin or ()),
    )
    return 0


def _emulator(args: argparse.Namespace) -> int:
    from oauth_bridge.emulator import EmulatorConfig, serve_forever

    apps = []
    for entry in args.client_app or ():
        guid, separator, redirect_uri = entry.partition("=")
        if not separator or not guid or not redirect_uri:
            print(f"error: --client-app wants GUID=REDIRECT_URI, got {entry!r}", file=sys.stderr)
            return 2
        apps.append((guid, redirect_uri))
    config = EmulatorConfig(
        token_ttl=args.token_ttl,
        refresh_rotation=not args.no_refresh_rotation,
        refresh_enabled=not args.no_refresh,
        api_delay=args.api_delay,
        cors_origins=tuple(args.cors_origin or ()),
        client_apps=tuple(apps),
    )
    api_port = args.api_port if args.api_port is not None else args.port + 1
    serve_forever(config, args.host, args.port, api_port)
    return 0


def _register_client(args: argparse.Namespace) -> int:
    from oauth_bridge.looker.registration import RegistrationError, register_client

    missing = [
        name
        for name in ("LOOKERSDK_BASE_URL", "LOOKERSDK_CLIENT_ID", "LOOKERSDK_CLIENT_SECRET")
        if not os.environ.get(name)
    ]
    if missing:
        print(f"error: set {', '.join(missing)} (Looker API3 admin credentials)", file=sys.stderr)
        return 2
    verify = os.environ.get("LOOKERSDK_VERIFY_SSL", "true").lower() not in ("0", "false", "no")
    secret = os.environ["LOOKERSDK_CLIENT_SECRET"]
    try:
        guid = register_client(
            base_url=os.environ["LOOKERSDK_BASE_URL"],
            client_id=os.environ["LOOKERSDK_CLIENT_ID"],
            client_secret=secret,
            redirect_uri=args.redirect_uri,
            client_guid=args.client_id,
            verify_ssl=verify,
            on_reuse=lambda note: print(note, file=sys.stderr),
        )
    except RegistrationError as exc:  # our own words: they never hold the secret
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # the SDK raises many kinds; say which, never the secret
        message = " ".join(str(exc).replace(secret, "***").split())[:500]
        print(f"error: registration failed: {type(exc).__name__}: {message}", file=sys.stderr)
        return 1
    print(guid)
    print(f"Set OAUTH_BRIDGE_CLIENT_ID={guid} for the bridge.", file=sys.stderr)
    return 0


def _serve(args: argparse.Namespace) -> int:
    from oauth_bridge.factory import create_app

    app = create_app()
    app.run(host=args.host, port=args.port, threaded=True)
    return 0


def _nginx_config(args: argparse.Namespace) -> int:
    from oauth_bridge.config import load_settings
    from oauth_bridge.data_plane.nginx_config import CA_FILE, NJS_MODULE, NginxOptions, render

    options = NginxOptions(
        listen=args.listen,
        bridge_url=args.bridge_url,
        workers=args.workers,
        njs_module=args.njs_module or NJS_MODULE,
        ca_file=args.ca_file or CA_FILE,
    )
    if not os.path.exists(options.njs_module):
        raise ConfigError(
            f"nginx's njs module is not at {options.njs_module} "
            "(Debian: apt-get install libnginx-mod-http-js; or pass --njs-module PATH)"
        )
    sys.stdout.write(render(load_settings(), options))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="oauth-bridge",
        description="Call the Looker API from a single-page app as the signed-in user.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="run emulator + bridge + demo SPA on localhost")
    # Ports left unset are the defaults, or free ones when those are taken (the demo says so).
    demo.add_argument("--port", type=int, default=None, help="bridge port (default 8080)")
    demo.add_argument("--spa-port", type=int, default=None, help="SPA port (default 8081)")
    demo.add_argument(
        "--emulator-port", type=int, default=None, help="Looker UI host port (default 9000)"
    )
    demo.add_argument(
        "--emulator-api-port", type=int, default=None, help="Looker API host port (default 9001)"
    )
    demo.add_argument("--token-ttl", type=int, default=3600, help="Looker token lifetime (s)")
    demo.add_argument(
        "--portal",
        action="store_true",
        help="also serve a portal page on another site (127.0.0.1) that frames the app, "
        "to try the pop-up sign-in for embedded apps (docs/embedding.md)",
    )
    demo.add_argument(
        "--portal-port", type=int, default=None, help="portal page port (default 8082)"
    )
    demo.add_argument(
        "--spa-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="serve your own SPA from DIR (with index.html) instead of the demo's; /config.js "
        "stays the demo's (BRIDGE_URL) and inline scripts in its pages are allowed by hash",
    )
    demo.add_argument(
        "--spa-origin",
        action="append",
        metavar="ORIGIN",
        help="also let an SPA you serve yourself use the bridge, e.g. http://localhost:5173 "
        "(repeatable; OAUTH_BRIDGE_CORS_ORIGINS is added too)",
    )
    demo.set_defaults(handler=_demo)

    emulator = commands.add_parser("emulator", help="run the Looker emulator")
    emulator.add_argument("--host", default="127.0.0.1")
    emulator.add_argument("--port", type=int, default=9000, help="UI host port (serves /auth)")
    emulator.add_argument(
        "--api-port", type=int, default=None, help="API host port (default: --port + 1)"
    )
    emulator.add_argument("--token-ttl", type=int, default=3600, metavar="SECONDS")
    emulator.add_argument(
        "--no-refresh-rotation", action="store_true", help="keep refresh tokens on refresh"
    )
    emulator.add_argument(
        "--no-refresh", action="store_true", help="refuse refresh grants (expiry testing)"
    )
    emulator.add_argument(
        "--api-delay", type=float, default=0.0, metavar="SECONDS", help="slow API answers"
    )
    emulator.add_argument(
        "--cors-origin", action="append", metavar="ORIGIN", help="embed allowlist entry"
    )
    emulator.add_argument(
        "--client-app",
        action="append",
        metavar="GUID=URI",
        help="OAuth client app registered at start (repeatable)",
    )
    emulator.set_defaults(handler=_emulator)

    register = commands.add_parser(
        "register-client",
        help="register the bridge as a Looker OAuth client app (LOOKERSDK_* credentials)",
    )
    register.add_argument("--redirect-uri", required=True, help="the bridge's /auth/callback URL")
    register.add_argument("--client-id", default=None, metavar="GUID", help="client_guid to use")
    register.set_defaults(handler=_register_client)

    serve = commands.add_parser("serve", help="development server (production: gunicorn app:app)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.set_defaults(handler=_serve)

    nginx = commands.add_parser(
        "nginx-config",
        help="print an nginx.conf that puts nginx in front as the data plane (docs/operations.md)",
        description="Print a complete nginx.conf built from the OAUTH_BRIDGE_* settings: nginx "
        "serves /api/4.0/ straight to Looker after asking the bridge, and passes everything "
        "else to the bridge. Run it with: nginx -p DIR -c FILE -e stderr",
    )
    nginx.add_argument("--listen", required=True, metavar="HOST:PORT", help="nginx's listener")
    nginx.add_argument(
        "--bridge-url",
        required=True,
        metavar="URL",
        help="the bridge process: http://HOST:PORT or unix:/PATH",
    )
    nginx.add_argument("--workers", default="auto", help="worker_processes (default auto)")
    nginx.add_argument(
        "--njs-module", default=None, help="path of ngx_http_js_module.so (default: Debian's)"
    )
    nginx.add_argument(
        "--ca-file", default=None, help="CAs for an https Looker API URL (default: Debian's)"
    )
    nginx.set_defaults(handler=_nginx_config)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in ("emulator", "register-client"):
        # The bridge (demo, serve) sets up its own JSON logs; these commands only need warnings.
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.handler(args))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
