"""Steps shared by every feature. Thin: the work happens in the `scenarios` drivers."""

from behave import then, when

from scenarios.registry import run


@when('the operator runs the "{name}" scenario')
def step_run_scenario(context, name):
    context.outcome = run(name, context.sandbox)
    context.facts.update(context.outcome.facts)


@then("it passes")
def step_passes(context):
    assert context.outcome.passed, context.outcome.error


@then("the sandbox publishes at least {count:d} test cards")
def step_test_cards(context, count):
    assert context.outcome.facts["test_cards"] >= count, context.outcome.facts
