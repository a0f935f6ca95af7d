// hello guest, word `malformed`: bad hypercalls and the errors hv must give.
#pragma once

namespace hello {

// Prints "malformed: <case> ok" or "malformed: <case> FAILED got X want Y"
// per case, then "malformed: K/N ok".
void run_malformed();

} // namespace hello
