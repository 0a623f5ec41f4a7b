# SPDX-License-Identifier: MIT
"""A stand-in for urllib3.connection (2.x), for tests/sandbox/network.c.

As in urllib3, the classes subclass http.client.HTTPConnection (the name
bound at import), open their own sockets in connect(), frame chunked
bodies themselves with send(), and touch the socket's timeout and
shutdown around getresponse(). cact must base them on the host's
connection whether they were imported by the code or preloaded before the
network was set up.
"""
import socket
from http.client import HTTPConnection as _HTTPConnection


class HTTPConnection(_HTTPConnection):
    default_port = 80
    is_verified = False

    def __init__(self, host, port=None, *, timeout=None, blocksize=16384):
        super().__init__(host=host, port=port, timeout=timeout, blocksize=blocksize)

    def connect(self):
        self.sock = socket.create_connection((self.host, self.port), self.timeout)

    @property
    def is_closed(self):
        return self.sock is None

    def request(self, method, url, body=None, headers=None):
        self.putrequest(method, url)
        chunked = body is not None and not isinstance(body, bytes)
        if chunked:
            self.putheader("Transfer-Encoding", "chunked")
        elif body is not None:
            self.putheader("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.putheader(name, value)
        self.endheaders()
        if chunked:
            for chunk in body:
                self.send(b"%x\r\n%b\r\n" % (len(chunk), chunk))
            self.send(b"0\r\n\r\n")
        elif body is not None:
            self.send(body)

    def getresponse(self):
        self.sock.settimeout(self.timeout)
        shutdown = getattr(self.sock, "shutdown", None)
        return super().getresponse(), shutdown


class HTTPSConnection(HTTPConnection):
    default_port = 443

    def connect(self):
        import ssl

        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = ssl.create_default_context().wrap_socket(sock, server_hostname=self.host)
        self.is_verified = True
