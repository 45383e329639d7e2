"""HTTP routes: one router per resource. Routes validate, call one service function, shape JSON."""
