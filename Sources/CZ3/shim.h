// Z3's C API, as Debian's libz3-dev installs it.
#include <z3.h>
