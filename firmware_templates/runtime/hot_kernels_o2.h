/* edgekit: this CMSIS-NN kernel asks for -O2 (the Arduino recipe builds with -Os; see edgekit/runtime/tree.py). */
#pragma GCC optimize("O2")
