// liblzma (xz-utils): the .xz container reader for training data.
#include <lzma.h>
