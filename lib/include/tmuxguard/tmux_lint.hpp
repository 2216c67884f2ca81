// Being written (issue 5).
#pragma once
