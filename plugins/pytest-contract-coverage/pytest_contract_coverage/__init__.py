"""Pytest plugin "contract coverage": which documented contract did the test suite exercise?

Load it with ``-p pytest_contract_coverage`` and configure it in the pytest ini::

    contracts_app = "myproject.main:create_app"   # module:attr, an app or a zero-arg factory
    contracts_dir = "docs/contracts"              # relative to the rootdir

The plugin knows no project: the app comes from ``contracts_app`` (it stays silent when the
option is unset), the contracts from ``contracts_dir``.

During the run every request sent through ``httpx.ASGITransport`` is recorded (app, method,
path, status, test node id, and whether the test read the response's status). A status is
credited to an endpoint only when the test looked at it: the ``httpx.Response`` handed back
records every read of ``response.status_code`` made outside httpx itself (an ``assert
response.status_code == 200``, a helper such as ``assert_error(response, 404, ...)``). A
response whose status was never read (a read-back whose body alone was compared, a request
made only to set data up) is *incidental*: it credits nothing, and a documented status
received only that way is reported as untested, naming the test that received it.

At the end of the session each request is resolved to the route template of the app that
served it (``PATCH /api/groups/{group_id}``) and compared with

* the routes of ``contracts_app`` (FastAPI ``APIRoute``s that are part of the schema),
* the statuses each operation of the app's OpenAPI document declares (``openapi-mismatch``
  when they differ from the contract's, in either direction), and
* the contract sections ``## METHOD /path`` in ``<contracts_dir>/*.md``.

The result is printed as an endpoint x status matrix with a list of flags and a summary line
``contract coverage: N/M endpoints complete, K gaps``. ``--contracts-strict`` (or the ini
option ``contracts_strict = true``) fails a full run that has any flag; partial runs
(``-k``, ``-m``, deselection, explicit paths, ``-x`` stops, ``--lf``...) only report.
``--contracts-report PATH`` writes the matrix as Markdown, or JSON when PATH ends in ``.json``.

The modules, one concern each: ``model`` (the report's data), ``contracts`` (the Markdown),
``routes`` (the app's endpoints, its OpenAPI statuses, request -> route template),
``recording`` (the transport wrapper and the status-read watch), ``compare`` (the flags and
the report), ``render`` (matrix, Markdown, JSON) and ``plugin`` (options and session hooks).
"""

from pytest_contract_coverage.plugin import pytest_addoption, pytest_configure

__all__ = ["pytest_addoption", "pytest_configure"]
