package io.sharefs.meta.client;

import io.sharefs.meta.MetaStore;
import io.sharefs.meta.MetaStoreContractTest;
import java.nio.file.Path;

class LocalMetaStoreTest extends MetaStoreContractTest {
  @Override
  protected MetaStore open(Path dir) throws Exception {
    return LocalMetaStore.open(dir);
  }
}
