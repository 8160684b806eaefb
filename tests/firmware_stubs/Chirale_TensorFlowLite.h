// Declaration stub of Chirale_TensorFLowLite 2.0.0's umbrella header (empty there too, see README.md).
#pragma once
