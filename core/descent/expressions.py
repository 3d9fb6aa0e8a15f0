"""Functions of x (or x, y) that a user types, parsed safely, differentiated symbolically.

    f = parse_function("3*x**2 - sin(x) + exp(x) - 5")
    f.value([0.5]), f.gradient([0.5]), f.derivatives   # numbers, and sympy expressions

Nothing the user types is ever run. Python's `ast.parse` only builds a syntax tree; the tree is
walked with a whitelist (numbers, the variables, pi and e, + - * / ** ^, and a few named
functions) into a sympy expression, anything else is rejected with a `ValueError` that says
what and why. Size limits (length, nesting, node count, exponents, constants) keep parsing,
differentiation and evaluation bounded, so `x**100000` or a wall of parentheses gets a message
instead of hanging a server. Numbers come from walking the sympy tree with numpy functions (no
`lambdify`, which `exec`s generated code), with overflow giving inf rather than an exception.
"""

import ast
import functools
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

MAX_LENGTH = 200  # characters
MAX_NESTING = 12  # parentheses inside each other
MAX_NODES = 150  # syntax-tree nodes
MAX_EXPONENT = 1000  # |n| in x**n for a constant n
MAX_CONSTANT = 1e9  # |number| as typed
MAX_CONSTANT_DIGITS = 300  # decimal digits of a constant built from typed numbers, e.g. 10**300

VARIABLES = ("x", "y")
SYMBOLS = {name: sp.Symbol(name, real=True) for name in VARIABLES}
CONSTANTS = {"pi": sp.pi, "e": sp.E}
FUNCTIONS = {
    "sin": sp.sin,
    "cos": sp.cos,
    "tan": sp.tan,
    "asin": sp.asin,
    "acos": sp.acos,
    "atan": sp.atan,
    "sinh": sp.sinh,
    "cosh": sp.cosh,
    "tanh": sp.tanh,
    "exp": sp.exp,
    "log": sp.log,
    "sqrt": sp.sqrt,
    "abs": sp.Abs,
}


class ExpressionError(ValueError):
    """A function text that is refused; the message says what is wrong and what is allowed."""


def _log10(number: sp.Number) -> float:
    """log10 of a positive sympy number, also for integers too large for a float."""
    if number.is_Rational:
        return math.log10(int(number.p)) - math.log10(int(number.q))
    return math.log10(float(number))


def _power(base: sp.Expr, exponent: sp.Expr) -> sp.Expr:
    if exponent.is_Number and abs(exponent) > MAX_EXPONENT:
        raise ExpressionError(
            f"the exponent {exponent} is too large: at most {MAX_EXPONENT} in size"
        )
    if base.is_Number and exponent.is_Number and base != 0:  # estimate before computing it
        _check_digits(float(exponent) * _log10(abs(base)))
    return base**exponent


def _check_digits(log10: float) -> None:
    if abs(log10) > MAX_CONSTANT_DIGITS:
        raise ExpressionError(
            f"a constant in the function has more than {MAX_CONSTANT_DIGITS} digits: too large"
        )


BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: _power,
}
UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg}

# What a rejected piece of syntax is called in the message.
FORBIDDEN = {
    ast.Attribute: "attribute access (a.b)",
    ast.Lambda: "lambda",
    ast.Subscript: "indexing (a[...])",
    ast.Compare: "comparisons",
    ast.BoolOp: "and / or",
    ast.IfExp: "if-else",
    ast.NamedExpr: "assignment (:=)",
    ast.Starred: "unpacking (*a)",
    ast.JoinedStr: "strings",
    ast.ListComp: "comprehensions",
    ast.GeneratorExp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.Tuple: "tuples",
    ast.List: "lists",
    ast.Dict: "dicts",
    ast.Set: "sets",
    ast.Await: "await",
}

HELP = "write numbers, x (and y), pi, e, + - * / ** ^, parentheses and " + ", ".join(
    f"{name}()" for name in FUNCTIONS
)


def _check_text(text: str) -> None:
    if not text.strip():
        raise ExpressionError(f"the function is empty; {HELP}")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"the function is {len(text)} characters long: at most {MAX_LENGTH}")
    odd = sorted({char for char in text if not (char.isascii() and char.isprintable())})
    if odd:
        raise ExpressionError(f"character {odd[0]!r}: not allowed; {HELP}")
    depth = deepest = 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        deepest = max(deepest, depth)
    if deepest > MAX_NESTING:
        raise ExpressionError(
            f"parentheses are nested {deepest} deep: at most {MAX_NESTING}; simplify the function"
        )


def _to_sympy(node: ast.AST, variables: tuple[str, ...]) -> sp.Expr:
    """The whitelisted syntax tree as a sympy expression; ExpressionError on anything else."""
    if isinstance(node, ast.Expression):
        return _to_sympy(node.body, variables)
    if isinstance(node, ast.BinOp):
        op = BINARY.get(type(node.op))
        if op is None:
            raise ExpressionError(f"the operator in {_source(node)}: not allowed; {HELP}")
        result = op(_to_sympy(node.left, variables), _to_sympy(node.right, variables))
        if result.is_Number and result != 0:
            _check_digits(_log10(abs(result)))
        return result
    if isinstance(node, ast.UnaryOp):
        op = UNARY.get(type(node.op))
        if op is None:
            raise ExpressionError(f"the operator in {_source(node)}: not allowed; {HELP}")
        return op(_to_sympy(node.operand, variables))
    if isinstance(node, ast.Constant):
        return _number(node.value)
    if isinstance(node, ast.Name):
        return _name(node.id, variables)
    if isinstance(node, ast.Call):
        return _call(node, variables)
    what = FORBIDDEN.get(type(node), type(node).__name__)
    raise ExpressionError(f"{what}: not allowed; {HELP}")


def _source(node: ast.AST) -> str:
    """The piece of the user's text a node came from, for messages."""
    return repr(ast.unparse(node))


def _number(value: object) -> sp.Expr:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ExpressionError(f"{value!r} is not a number; {HELP}")
    if not abs(value) <= MAX_CONSTANT:  # also catches inf and nan
        raise ExpressionError(f"the number {value} is too large: at most {MAX_CONSTANT:g}")
    return sp.Integer(value) if isinstance(value, int) else sp.Float(value)


def _name(name: str, variables: tuple[str, ...]) -> sp.Expr:
    if name in variables:
        return SYMBOLS[name]
    if name in CONSTANTS:
        return CONSTANTS[name]
    if name in FUNCTIONS:
        raise ExpressionError(f"{name} is a function: write {name}(...)")
    if name in VARIABLES:
        raise ExpressionError(
            f"{name} is not a variable here: this function may use {', '.join(variables)} only"
        )
    raise ExpressionError(f"unknown name {name!r}; {HELP}")


def _call(node: ast.Call, variables: tuple[str, ...]) -> sp.Expr:
    if not isinstance(node.func, ast.Name):
        raise ExpressionError(f"only the named functions can be called; {HELP}")
    function = FUNCTIONS.get(node.func.id)
    if function is None:
        raise ExpressionError(f"unknown function {node.func.id!r}; {HELP}")
    if node.keywords or len(node.args) != 1:
        raise ExpressionError(
            f"{node.func.id}() takes exactly one argument, e.g. {node.func.id}(x)"
        )
    return function(_to_sympy(node.args[0], variables))


def _add(*terms):
    return functools.reduce(operator.add, terms)


def _multiply(*factors):
    return functools.reduce(operator.mul, factors)


# Everything a whitelisted expression or its derivative can contain, for arrays (numpy: IEEE
# overflow to inf) and for single floats (math: several times faster, raises on overflow).
NUMPY: dict[type, Callable] = {
    sp.Add: _add,
    sp.Mul: _multiply,
    sp.Pow: np.power,
    sp.sin: np.sin,
    sp.cos: np.cos,
    sp.tan: np.tan,
    sp.asin: np.arcsin,
    sp.acos: np.arccos,
    sp.atan: np.arctan,
    sp.sinh: np.sinh,
    sp.cosh: np.cosh,
    sp.tanh: np.tanh,
    sp.exp: np.exp,
    sp.log: np.log,
    sp.Abs: np.abs,
    sp.sign: np.sign,
}
MATH: dict[type, Callable] = {
    sp.Add: _add,
    sp.Mul: _multiply,
    sp.Pow: math.pow,
    sp.sin: math.sin,
    sp.cos: math.cos,
    sp.tan: math.tan,
    sp.asin: math.asin,
    sp.acos: math.acos,
    sp.atan: math.atan,
    sp.sinh: math.sinh,
    sp.cosh: math.cosh,
    sp.tanh: math.tanh,
    sp.exp: math.exp,
    sp.log: math.log,
    sp.Abs: abs,
    sp.sign: lambda value: float((value > 0) - (value < 0)),
}


def _tree(expr: sp.Expr, variables: tuple[str, ...], table: dict[type, Callable]) -> Callable:
    """`expr` as nested closures over `table`'s functions, taking one value per variable."""
    index = {SYMBOLS[name]: position for position, name in enumerate(variables)}

    def build(node: sp.Expr) -> Callable:
        if node in index:
            position = index[node]
            return lambda args: args[position]
        if node.is_Number or isinstance(node, sp.NumberSymbol):  # exp(1000) stays compound
            constant = float(node)
            return lambda args: constant
        function = table.get(node.func)
        if function is None:  # cannot happen for whitelisted input; guards future edits
            raise ExpressionError(f"cannot evaluate {node.func.__name__} numerically")
        children = [build(arg) for arg in node.args]
        return lambda args: function(*(child(args) for child in children))

    return build(expr)


def compile_numpy(expr: sp.Expr, variables: tuple[str, ...]) -> Callable[..., np.ndarray]:
    """A function of numpy arrays (one per variable) that evaluates `expr` elementwise."""
    evaluate = _tree(expr, variables, NUMPY)

    def numeric(*arrays: np.ndarray) -> np.ndarray:
        arrays = np.broadcast_arrays(*(np.asarray(array, dtype=float) for array in arrays))
        with np.errstate(all="ignore"):  # overflow -> inf, log(-1) -> nan: the caller checks
            return np.broadcast_to(evaluate(arrays), arrays[0].shape).astype(float)

    return numeric


def compile_scalar(expr: sp.Expr, variables: tuple[str, ...]) -> Callable[..., float]:
    """`expr` at one point (a float per variable): with `math`, falling back to numpy's IEEE
    results (inf, nan) where math raises or leaves the reals."""
    fast, exact = _tree(expr, variables, MATH), compile_numpy(expr, variables)

    def scalar(*values: float) -> float:
        try:
            result = fast(values)
        except (OverflowError, ValueError, ZeroDivisionError):
            return float(exact(*values))
        return result if type(result) is float else float(exact(*values))

    return scalar


@dataclass(frozen=True)
class ParsedFunction:
    """A checked function of `variables` with its symbolic gradient, evaluable with numpy."""

    text: str
    expr: sp.Expr
    variables: tuple[str, ...]
    derivatives: tuple[sp.Expr, ...]
    _grid: Callable = field(repr=False, compare=False)
    _value: Callable = field(repr=False, compare=False)
    _gradient: tuple[Callable, ...] = field(repr=False, compare=False)

    @property
    def dim(self) -> int:
        return len(self.variables)

    def on_grid(self, *arrays: np.ndarray) -> np.ndarray:
        """Values on arrays of coordinates (one array per variable), e.g. a meshgrid."""
        return self._grid(*arrays)

    def value(self, point) -> float:
        return self._value(*self._split(point))

    def gradient(self, point) -> np.ndarray:
        coordinates = self._split(point)
        return np.array([partial(*coordinates) for partial in self._gradient])

    def _split(self, point) -> tuple[float, ...]:
        coordinates = tuple(map(float, np.ravel(point)))
        if len(coordinates) != self.dim:
            raise ValueError(
                f"the point needs {self.dim} coordinate(s) ({', '.join(self.variables)}), "
                f"got {len(coordinates)}"
            )
        return coordinates

    def latex(self) -> str:
        return sp.latex(self.expr)


@functools.lru_cache(maxsize=256)  # the result is immutable; presets are parsed once
def parse_function(text: str, variables: tuple[str, ...] | None = None) -> ParsedFunction:
    """Parse `text` into a function of x, or of x and y (`variables=None`: whichever it uses).

    Raises ExpressionError (a ValueError) naming the problem; runs nothing of the text.
    """
    _check_text(text)
    try:  # `^` means power, as people type it (x^2), with the precedence of **
        tree = ast.parse(text.strip().replace("^", "**"), mode="eval")
    except SyntaxError as error:
        raise ExpressionError(
            f"cannot read the function ({error.msg}): write products with *, e.g. 3*x, "
            f"and powers with ** or ^"
        ) from None
    nodes = sum(1 for _ in ast.walk(tree))
    if nodes > MAX_NODES:
        raise ExpressionError(f"the function has {nodes} parts: at most {MAX_NODES}; simplify it")
    expr = _to_sympy(tree, VARIABLES if variables is None else variables)
    if expr.has(sp.zoo, sp.oo, -sp.oo, sp.nan):
        raise ExpressionError("the function is undefined (a division by zero or log(0))")
    if expr.has(sp.I):
        raise ExpressionError("the function has complex values (e.g. sqrt(-1)): use real ones")
    if variables is None:
        variables = ("x", "y") if SYMBOLS["y"] in expr.free_symbols else ("x",)
    derivatives = tuple(sp.diff(expr, SYMBOLS[name]) for name in variables)
    return ParsedFunction(
        text=text.strip(),
        expr=expr,
        variables=variables,
        derivatives=derivatives,
        _grid=compile_numpy(expr, variables),
        _value=compile_scalar(expr, variables),
        _gradient=tuple(compile_scalar(partial, variables) for partial in derivatives),
    )
