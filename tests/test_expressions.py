"""The safe function parser: right values and derivatives, and hostile input refused unrun."""

import builtins

import numpy as np
import pytest
import sympy as sp
from scipy.optimize import approx_fprime

from core.descent.expressions import MAX_LENGTH, ExpressionError, parse_function

x, y = sp.symbols("x y", real=True)

# (typed text, the same function built directly with sympy, a numpy version of it)
FUNCTIONS = [
    ("3*x**2 - sin(x) + exp(x) - 5", 3 * x**2 - sp.sin(x) + sp.exp(x) - 5,
     lambda a: 3 * a**2 - np.sin(a) + np.exp(a) - 5),
    ("3*x^2 - sin(x) + e^x - 5", 3 * x**2 - sp.sin(x) + sp.exp(x) - 5,
     lambda a: 3 * a**2 - np.sin(a) + np.exp(a) - 5),
    ("sqrt(x**2 + 1) * atan(x) / (2 + cos(x))", sp.sqrt(x**2 + 1) * sp.atan(x) / (2 + sp.cos(x)),
     lambda a: np.sqrt(a**2 + 1) * np.arctan(a) / (2 + np.cos(a))),
    ("log(1 + x^2) - abs(x - 0.5) + tanh(2*x)", sp.log(1 + x**2) - sp.Abs(x - 0.5) + sp.tanh(2 * x),
     lambda a: np.log(1 + a**2) - np.abs(a - 0.5) + np.tanh(2 * a)),
]  # fmt: skip


@pytest.mark.parametrize(("text", "reference", "numeric"), FUNCTIONS)
def test_values_and_derivative_match_sympy_and_numpy(text, reference, numeric):
    function = parse_function(text)
    assert function.variables == ("x",)
    assert sp.simplify(function.expr - reference) == 0
    assert sp.simplify(function.derivatives[0] - sp.diff(reference, x)) == 0
    points = np.linspace(-2.3, 2.9, 41)
    values = [function.value([a]) for a in points]
    np.testing.assert_allclose(values, numeric(points), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(function.on_grid(points), numeric(points), rtol=1e-12, atol=1e-12)
    for a in points[::5] + 0.013:  # off the kink of abs(x - 0.5)
        numeric_slope = approx_fprime([a], lambda p: float(numeric(p[0])), 1e-7)
        np.testing.assert_allclose(function.gradient([a]), numeric_slope, rtol=1e-5, atol=1e-5)


def test_two_variables_gradient_matches_finite_differences():
    function = parse_function("(1 - x)**2 + 100*(y - x**2)**2 + exp(x) * cos(y)")
    assert function.variables == ("x", "y") and function.dim == 2
    for point in ([-1.2, 1.0], [0.3, -0.7], [1.0, 1.0]):
        expected = approx_fprime(point, function.value, 1e-7)
        np.testing.assert_allclose(function.gradient(point), expected, rtol=1e-5, atol=1e-4)
    grid = np.meshgrid(np.linspace(-1, 1, 5), np.linspace(0, 2, 4))
    on_grid = function.on_grid(*grid)
    assert on_grid.shape == (4, 5)
    assert on_grid[2, 3] == pytest.approx(function.value([grid[0][2, 3], grid[1][2, 3]]))


def test_caret_is_power_with_the_precedence_of_double_star():
    assert parse_function("3*x^2").expr == 3 * x**2  # Python's ^ would make this (3x) xor 2
    assert parse_function("x^2^3").expr == x**8  # right-associative, as 2^3 is done first
    assert parse_function("-x^2").expr == -(x**2)


def test_variables_are_detected_or_enforced():
    assert parse_function("y").variables == ("x", "y")
    assert parse_function("pi*e").variables == ("x",)
    assert parse_function("pi*e").value([3.0]) == pytest.approx(np.pi * np.e)
    assert parse_function("pi*e").gradient([3.0]).tolist() == [0.0]
    with pytest.raises(ExpressionError, match="y is not a variable here"):
        parse_function("x + y", variables=("x",))


def test_points_of_the_wrong_size_are_refused():
    function = parse_function("x*y")
    with pytest.raises(ValueError, match=r"needs 2 coordinate\(s\) \(x, y\), got 3"):
        function.value([1, 2, 3])


def test_overflow_gives_inf_not_an_exception():
    tower = parse_function("exp(exp(exp(x)))")  # bounded: parsed at once, evaluated to inf
    assert tower.value([1.0]) == pytest.approx(np.exp(np.exp(np.e)))
    assert tower.value([5.0]) == np.inf and tower.gradient([5.0])[0] == np.inf
    assert parse_function("x**1000").value([10.0]) == np.inf
    assert np.isnan(parse_function("log(x)").value([-1.0]))
    assert parse_function("exp(-exp(x))").value([800.0]) == 0.0  # IEEE: exp(-inf) = 0


CANARY_CALLS = []


@pytest.fixture
def canary(monkeypatch, tmp_path):
    """A builtin that records calls, and eval / exec / compile that fail if anything calls them:
    a refused expression must have run nothing."""
    CANARY_CALLS.clear()
    monkeypatch.setattr(builtins, "canary", lambda *args: CANARY_CALLS.append(args), raising=False)

    def forbidden(*args, **kwargs):
        raise AssertionError("eval/exec/compile must never be called")

    for name in ("eval", "exec"):
        monkeypatch.setattr(builtins, name, forbidden)
    return tmp_path / "pwned"


HOSTILE = [
    ("__import__('os').system('touch {flag}')", "only the named functions can be called"),
    ("__import__('os')", "unknown function '__import__'"),
    ("canary()", "unknown function 'canary'"),
    ("x + canary(1)", "unknown function 'canary'"),
    ("x.__class__", "attribute access"),
    ("().__class__.__bases__[0].__subclasses__()", "only the named functions can be called"),
    ("sin.__globals__", "attribute access"),
    ("(lambda: canary())()", "only the named functions can be called"),
    ("lambda x: x", "lambda: not allowed"),
    ("[canary() for _ in 'a']", "comprehensions: not allowed"),
    ("open('{flag}', 'w')", "unknown function 'open'"),
    ("eval('1')", "unknown function 'eval'"),
    ("exec('canary()')", "unknown function 'exec'"),
    ("globals", "unknown name 'globals'"),
    ("__builtins__", "unknown name '__builtins__'"),
    ("x if canary() else x", "if-else: not allowed"),
    ("(c := 1)", "assignment"),
    ("x[0]", "indexing"),
    ("'x'", "is not a number"),
    ("f'{canary()}'", "strings: not allowed"),
    ("1j*x", "is not a number"),
    ("x == 1", "comparisons: not allowed"),
    ("x and y", "and / or: not allowed"),
    ("x % 2", "the operator in 'x % 2'"),
    ("x // 2", "the operator in 'x // 2'"),
    ("x << 2", "the operator in 'x << 2'"),
    ("~x", "the operator in '~x'"),
    ("not x", "the operator in 'not x'"),
    ("sin(x, y)", "takes exactly one argument"),
    ("sin(x=1)", "takes exactly one argument"),
    ("sin", "sin is a function: write sin(...)"),
    ("import os", "cannot read the function"),
    ("x; canary()", "cannot read the function"),
    ("3x", "write products with \\*"),
    ("x\ncanary()", "character '\\\\n': not allowed"),
    ("ｘ + 1", "character 'ｘ': not allowed"),
    ("", "the function is empty"),
    ("x**100000", "the exponent 100000 is too large"),
    ("10**10**10", "the exponent 10000000000 is too large"),
    ("9**9**9**9", "too large"),
    ("(999999999**30)*(999999999**30)", "more than 300 digits"),
    ("1e400 * x", "the number inf is too large"),
    ("123456789012 * x", "the number 123456789012 is too large"),
    ("x" + "+x" * MAX_LENGTH, f"characters long: at most {MAX_LENGTH}"),
    ("(" * 40 + "x" + ")" * 40, "parentheses are nested 40 deep"),
    ("x" + "+x" * 99, "parts: at most"),
    ("1/0", "undefined"),
    ("log(0)", "undefined"),
    ("sqrt(-1)", "complex values"),
]


@pytest.mark.timeout(60)  # a hang guard: every one of these must be refused at once
@pytest.mark.parametrize(("text", "message"), HOSTILE)
def test_hostile_or_malformed_input_is_refused_without_running_anything(canary, text, message):
    with pytest.raises(ExpressionError, match=message):
        parse_function(text.replace("{flag}", str(canary)))
    assert CANARY_CALLS == [] and not canary.exists()


def test_there_are_at_least_twenty_hostile_cases():
    assert len(HOSTILE) >= 20


def test_valid_input_parses_with_eval_and_exec_forbidden(canary):
    function = parse_function("exp(x) + cos(y) - 2^x / (1 + abs(y))")
    assert function.value([0.0, 0.0]) == pytest.approx(1 + 1 - 1)
    assert function.gradient([0.0, 0.0]).shape == (2,)


def test_refusals_are_value_errors_with_one_line_messages():
    with pytest.raises(ValueError) as error:
        parse_function("x.real")
    assert isinstance(error.value, ExpressionError) and "\n" not in str(error.value)
    assert "sin()" in str(error.value)  # says what is allowed
