#!/usr/bin/python3
"""A real SMTP server (aiosmtpd) for provider tests, on loopback.

Prints "PORT <n>" once listening; exits when stdin closes. Each accepted
message is written to <dir>/<n>.json: mail_from, rcpt_tos, data, login,
tls and parsed (headers and parts as Python's email package decodes them).
Recipients steer failures: unknown*@ -> 550 5.1.1 at RCPT, tempfail*@ ->
451 4.3.0 at RCPT, reject*@ -> 554 5.7.1 after DATA.

  --dir D            where messages go (required)
  --tls CERT KEY     offer STARTTLS with this certificate
  --require-starttls refuse mail before STARTTLS
  --auth USER:PASS   require AUTH (PLAIN/LOGIN) with these credentials
"""
import argparse
import asyncio
import email
import email.policy
import json
import logging
import os
import ssl
import sys
import threading

from aiosmtpd.smtp import SMTP, AuthResult


def parse(content):
    """The message as a mail client reads it: decoded headers and parts."""
    message = email.message_from_bytes(content, policy=email.policy.default)
    headers = {name: str(message[name]) for name in
               ("From", "To", "Subject", "Date", "Message-ID", "Reply-To", "MIME-Version") if message[name]}
    parts = {part.get_content_type(): part.get_content() for part in message.walk()
             if not part.is_multipart()}
    return {"headers": headers, "content_type": message.get_content_type(), "parts": parts,
            "defects": len(message.defects)}


class Handler:
    def __init__(self, directory):
        self.directory = directory
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@")[0].lower()
        if local.startswith("unknown"):
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        if local.startswith("tempfail"):
            return "451 4.3.0 Temporary failure, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if any(r.split("@")[0].lower().startswith("reject") for r in envelope.rcpt_tos):
            return "554 5.7.1 Message rejected by policy"
        self.count += 1
        login = session.auth_data if session.authenticated else None
        record = {"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                  "data": envelope.content.decode("utf-8", "replace"), "login": login,
                  "tls": session.ssl is not None, "parsed": parse(envelope.content)}
        path = os.path.join(self.directory, "%04d.json" % self.count)
        with open(path + ".tmp", "w") as out:
            json.dump(record, out)
        os.rename(path + ".tmp", path)  # Readers never see half a file.
        return "250 2.0.0 Ok: queued as %d" % self.count


def main():
    # A client that refuses the test certificate (on purpose) makes aiosmtpd
    # log a traceback; the test asserts the outcome instead.
    logging.getLogger("mail.log").setLevel(logging.CRITICAL)
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--tls", nargs=2)
    parser.add_argument("--require-starttls", action="store_true")
    parser.add_argument("--auth")
    args = parser.parse_args()

    context = None
    if args.tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls[0], args.tls[1])
    user, password = (args.auth.split(":", 1) if args.auth else (None, None))

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login.decode() == user and auth_data.password.decode() == password
        # handled=False: aiosmtpd itself answers 535 on failure.
        return AuthResult(success=ok, handled=False, auth_data=auth_data.login.decode() if ok else None)

    handler = Handler(args.dir)
    loop = asyncio.new_event_loop()

    def factory():
        kwargs = dict(hostname="herald-test", tls_context=context, require_starttls=args.require_starttls)
        if args.auth:
            kwargs.update(authenticator=authenticator, auth_required=True,
                          auth_require_tls=bool(args.tls))
        return SMTP(handler, **kwargs)

    server = loop.run_until_complete(loop.create_server(factory, host="127.0.0.1", port=0))
    print("PORT", server.sockets[0].getsockname()[1], flush=True)
    threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
    loop.run_forever()


if __name__ == "__main__":
    main()
