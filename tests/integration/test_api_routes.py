"""Valid requests on every documented route succeed with the right content, not only a 2xx."""

from __future__ import annotations

import pytest

from local.stack import LocalStack
from tests.api_story import STORY_PARAMETERS, STORY_ROUTES, Api, documented_routes, run_story

pytestmark = pytest.mark.integration


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch):
    with LocalStack(parameters=STORY_PARAMETERS) as local_stack:
        for name, value in local_stack.environment().items():
            monkeypatch.setenv(name, value)
        yield local_stack


def test_every_route_answers_a_valid_request_with_its_result(stack):
    # Given an empty stack; When the API story runs (training through deployment, predict and capture, feedback,
    # a rejected challenger, approval and rejection, canary, promote, rollback, reproduce);
    # Then each answer holds what the registry and S3 hold (asserted step by step in run_story).
    api = Api(stack)
    try:
        run_story(stack, api)
    finally:
        api.close()
    # And the story called every route of openapi.json.
    assert documented_routes() == STORY_ROUTES
