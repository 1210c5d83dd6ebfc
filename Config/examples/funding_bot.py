#!/usr/bin/env python3
"""A Partnerline bot in standard-library Python (ssl, socket): logs in, joins a room, posts one
FUNDING alert with a ref (a repeat stores nothing: the server answers duplicate=yes), prints
every line the server sends. The account needs the bot role (an admin: GRANT <account> bot);
CA_FILE is the server's CA or its self-signed certificate (the demo's data/tls/self-signed.crt).
  PARTNERLINE_PASSWORD=... python3 funding_bot.py HOST:PORT ACCOUNT ROOM CA_FILE [SECONDS]"""
import os, socket, ssl, sys

def quote(value):
    """An option value as the server reads it: bare, or in double quotes with \\" and \\\\."""
    if value and not any(c in value for c in ' \t"\\='):
        return value
    return '"' + value.replace('\\', '\\\\').replace('"', '\\"') + '"'

def main():
    host, port = sys.argv[1].rsplit(':', 1)
    account, room, ca_file = sys.argv[2], sys.argv[3], sys.argv[4]
    seconds = float(sys.argv[5]) if len(sys.argv) > 5 else 5.0
    host = host.strip('[]')
    tls = ssl.create_default_context(cafile=ca_file)  # checks the chain and the host name
    conn = tls.wrap_socket(socket.create_connection((host, int(port)), timeout=10), server_hostname=host)
    lines = conn.makefile('r', encoding='utf-8', newline='\r\n')

    def send(line):
        conn.sendall((line + '\r\n').encode('utf-8'))

    def reply(tag):  # print lines up to the final OK/ERR of the command tagged `tag`
        for line in lines:
            line = line.rstrip('\r\n')
            print('<', line, flush=True)
            if line.startswith('PING'):
                send('PONG ' + line[5:])
            if line.startswith('@%s OK' % tag) or line.startswith('@%s ERR' % tag):
                return line
        sys.exit('the server closed the connection')

    print('<', lines.readline().rstrip('\r\n'), flush=True)  # HELLO
    send('@l LOGIN %s %s' % (account, os.environ['PARTNERLINE_PASSWORD']))
    if ' ERR ' in reply('l'):
        sys.exit(1)
    send('@j JOIN ' + room)
    reply('j')
    send('@f FUNDING %s funder=%s amount=%s deadline=2030-03-31 url=%s tags=transport,rural ref=%s :%s' % (
        room, quote('Fenland and Wolds Community Foundation (sample)'), quote('£5,000-£50,000'),
        'https://example.org/fwcf/grants/rural-transport', quote('python-example:fwcf-2026-rtp'),
        'Rural Transport Partnerships Fund (a made-up sample)'))
    reply('f')
    conn.settimeout(seconds)  # then print whatever else arrives: others' posts, notices
    try:
        for line in lines:
            print('<', line.rstrip('\r\n'), flush=True)
    except (socket.timeout, TimeoutError, ssl.SSLError):
        pass
    send('QUIT')

main()
