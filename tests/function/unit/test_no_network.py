"""Every test in a unit/ folder runs without the network: a connection attempt is refused, so none slips in."""

from __future__ import annotations

import socket
import urllib.request

import boto3
import pytest
from botocore.exceptions import HTTPClientError
from pytest_socket import SocketBlockedError

# Each refusal also warns; here the refusals are the point.
pytestmark = pytest.mark.filterwarnings("ignore:A test tried to use socket")


def test_a_connection_attempt_is_refused_even_to_loopback() -> None:
    with pytest.raises(SocketBlockedError):
        socket.create_connection(("127.0.0.1", 9), timeout=1)


def test_a_name_lookup_is_refused() -> None:
    with pytest.raises(SocketBlockedError):
        socket.getaddrinfo("codepipeline.eu-west-1.amazonaws.com", 443)


def test_an_aws_call_without_its_stubber_fails_instead_of_reaching_aws() -> None:
    client = boto3.client("codepipeline", region_name="eu-west-1")

    with pytest.raises(HTTPClientError, match="A test tried to use socket"):
        client.list_pipelines()


def test_an_http_request_fails_instead_of_leaving_the_machine() -> None:
    with pytest.raises(SocketBlockedError):
        urllib.request.urlopen("http://169.254.169.254/latest/meta-data/", timeout=1)
