# expect: runtime_error
# floor: runtime_error
# policy: strict
# environment: python-data
# pandas needs lxml (or bs4 + html5lib) to parse, and checks before it opens the file: ImportError in
# both passes. Were a parser installed, the open would be refused like read_csv's.
import pandas as pd
print(pd.read_html('/etc/passwd'))
